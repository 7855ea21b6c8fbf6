"""An import sends its rows with COPY in binary format (layers.importing.writer.binary_copy).
The same rows sent as text COPY land identically, row for row: NULLs, text with tabs,
backslashes, quotes and newlines, whole numbers of each width, times and points; and
through a whole import, a first load writes the same rows as the merge path."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import geopandas as gpd
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely
from django.conf import settings
from django.db import connection

from layers.importing.core import import_file
from layers.importing.writer import binary_copy
from layers.models import Area, Component
from tests.test_import import TIANHE, catalogue

__all__ = ["catalogue"]  # the fixture, used by name

AWKWARD = ["tab\there", "back\\slash \\N", 'quote " and, comma', "new\nline\r\n", "", "中文"]
TYPES = {
    "id": "int8",
    "name": "varchar",
    "note": "text",
    "small": "int2",
    "count": "int4",
    "big": "int8",
    "x": "float8",
    "at": "timestamptz",
    "geom": "geometry",
}
COLUMNS = ", ".join(f'"{name}"' for name in TYPES)


def rows() -> pa.Table:
    n = len(AWKWARD)
    lon = [TIANHE[0] + i * 1e-7 for i in range(n)]
    lat = [TIANHE[1] - i / 3 * 1e-7 for i in range(n)]
    return pa.table(
        {
            "id": pa.array(range(1, n + 1), pa.int64()),
            "name": pa.array(AWKWARD),
            "note": pa.array([None, "x", None, "y", "", "\\"]),
            "small": pa.array([None, 0, -32768, 32767, 7, None], pa.int64()),
            "count": pa.array([1, None, -(2**31), 2**31 - 1, 0, 5], pa.int64()),
            "big": pa.array([None, 2**62, -1, 0, None, 3], pa.int64()),
            "x": pa.array([0.1, -1e300, 2.5e-300, 113.30000000000001, 0.0, -0.0]),
            "at": pa.array([0, 1, -1, 10**15, 789_123_456_789, 86_400_000_000], pa.int64()),
            "lon": pa.array(lon),
            "lat": pa.array(lat),
        }
    )


def as_text(table: pa.Table) -> bytes:
    """The same rows as CSV for COPY's text route: times and points as their text."""
    epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    times = [(epoch + dt.timedelta(microseconds=us)).isoformat() for us in table["at"].to_pylist()]
    points = shapely.points(table["lon"].to_numpy(), table["lat"].to_numpy())
    ewkb = shapely.to_wkb(shapely.set_srid(points, settings.GRID_SRID), hex=True, include_srid=True)
    text = table.select([name for name in TYPES if name not in ("at", "geom")])
    text = text.append_column("at", pa.array(times)).append_column("geom", pa.array(ewkb))
    buffer = io.BytesIO()
    pacsv.write_csv(text, buffer, pacsv.WriteOptions(include_header=False))
    return buffer.getvalue()


def loaded(table_name: str) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, name, note, small, count, big, x, at, ST_AsEWKB(geom) "
            f"FROM {table_name} ORDER BY id"
        )
        return [(*row[:-1], bytes(row[-1])) for row in cursor.fetchall()]


def test_binary_copy_lands_as_text_copy_does(db: None) -> None:
    table = rows()
    definition = (
        "id bigint, name varchar(100), note text, small smallint, count integer, big bigint, "
        f"x double precision, at timestamptz, geom geometry(Point, {settings.GRID_SRID})"
    )
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE by_text ({definition})")
        cursor.execute(f"CREATE TEMP TABLE by_binary ({definition})")
    raw = connection.connection
    with raw.cursor() as cursor:
        # Text as the writer sent it before: empty text is '' (FORCE_NOT_NULL), not NULL.
        sql = f"COPY by_text ({COLUMNS}) FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL (name, note))"
        with cursor.copy(sql) as copy:
            copy.write(as_text(table))
        with cursor.copy(f"COPY by_binary ({COLUMNS}) FROM STDIN WITH (FORMAT binary)") as copy:
            copy.write(b"PGCOPY\n\xff\r\n\x00" + bytes(8))
            copy.write(binary_copy(table, TYPES))
            copy.write(b"\xff\xff")

    by_binary = loaded("by_binary")
    assert by_binary == loaded("by_text")
    assert [row[1] for row in by_binary] == AWKWARD
    assert [row[2] for row in by_binary] == ["", "x", "", "y", "", "\\"]
    assert [row[3] for row in by_binary] == [None, 0, -32768, 32767, 7, None]
    assert by_binary[0][7] == dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def component_rows(codes: list[str]) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT code, name, state, competent_unit, owner_unit, maintainer_unit, "
            "category_id, cell_id, community_id, street_id, district_id, competent_id, "
            "owner_id, maintainer_id, ST_AsEWKB(geom) FROM layers_component "
            "WHERE code = ANY(%s) ORDER BY code",
            [codes],
        )
        return [(*row[:-1], bytes(row[-1])) for row in cursor.fetchall()]


def test_a_first_load_writes_what_the_merge_path_writes(
    small_city: dict[str, Area], catalogue: None, tmp_path: Path
) -> None:
    codes = [f"44010601010000{i:02d}" for i in range(1, len(AWKWARD) + 1)]
    frame = gpd.GeoDataFrame(
        {
            "code": codes,
            "name": [f"井盖{i}{text}" for i, text in enumerate(AWKWARD)],
            "maintainer_unit": AWKWARD[::-1],
        },
        geometry=shapely.points(rows()["lon"].to_numpy(), rows()["lat"].to_numpy()),
        crs="EPSG:4326",
    )
    path = tmp_path / "awkward.geojson"
    frame.to_file(path, driver="GeoJSON")

    assert import_file("components", path).inserted == len(codes)  # a first load
    first = component_rows(codes)
    assert [row[1] for row in first] == [f"井盖{i}{t}".strip() for i, t in enumerate(AWKWARD)]

    Component.objects.filter(code__in=codes[1:]).delete()
    assert import_file("components", path).inserted == len(codes) - 1  # the merge path
    assert component_rows(codes) == first
