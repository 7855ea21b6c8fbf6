"""The import's cheaper paths give the same answers as before: placement answered per
bucket where no outline crosses it, and the report of unknown units written by a thread
of its own."""

from __future__ import annotations

import csv
import io

import numpy as np
import pyarrow as pa
import pytest
import shapely
from django.contrib.gis.geos import Point

from layers.importing.cells import UNKNOWN, CellIndex, _Buckets
from layers.importing.core import UnknownUnits
from layers.models import Area
from layers.placement import OutsideCity, place_point


def test_buckets_settled_without_a_polygon_test_place_every_point_as_a_test_does(
    small_city: dict[str, Area],
) -> None:
    cells = CellIndex()
    rng = np.random.default_rng(18)
    x0, y0, x1, y1 = shapely.total_bounds(cells.pieces)
    margin = 0.002
    lon = [rng.uniform(x0 - margin, x1 + margin, 20_000)]
    lat = [rng.uniform(y0 - margin, y1 + margin, 20_000)]
    # Points on the outlines: every vertex and points anywhere along every edge.
    rings = shapely.get_parts(shapely.boundary(cells.pieces))
    outline, ring = shapely.get_coordinates(rings, return_index=True)
    a, b = outline[:-1][ring[:-1] == ring[1:]], outline[1:][ring[:-1] == ring[1:]]
    along = a + (b - a) * rng.uniform(0, 1, (len(a), 1))
    for xy in (outline, along):
        lon.append(xy[:, 0])
        lat.append(xy[:, 1])
    x, y = np.concatenate(lon), np.concatenate(lat)

    settled = cells._buckets.known_cell(x, y) != UNKNOWN
    # Most points are answered by their bucket, the points on outlines never.
    assert settled[:20_000].mean() > 0.9
    assert not settled[20_000:].any()
    located = cells.locate(x, y)
    # The same cell as testing every point against the pieces of its bucket (the former
    # way, still used for the buckets an outline crosses).
    assert (located.cell_index == cells._tested(x, y)).all()
    assert (located.cell_index >= 0).sum() > 10_000 and located.outside.sum() > 500

    codes = {area.pk: code for code, area in small_city.items()}
    for i in rng.choice(np.flatnonzero(settled), 200, replace=False):
        try:
            expected = place_point(Point(float(x[i]), float(y[i]), srid=4326)).cell.code
        except OutsideCity:
            expected = None
        got = codes[int(located.cell_id[i])] if located.cell_index[i] >= 0 else None
        assert got == expected, (x[i], y[i])


def test_the_outlines_mark_the_same_buckets_whether_their_edges_go_at_once_or_in_slices(
    small_city: dict[str, Area], monkeypatch: pytest.MonkeyPatch
) -> None:
    pieces = CellIndex().pieces
    edges = len(shapely.get_coordinates(shapely.boundary(pieces)))
    monkeypatch.setattr(_Buckets, "EDGES_AT_ONCE", edges)
    at_once = _Buckets(pieces).crossed
    monkeypatch.setattr(_Buckets, "EDGES_AT_ONCE", 7)  # many slices
    in_slices = _Buckets(pieces).crossed
    assert edges > 7 * 10 and at_once.sum() > 100
    assert (in_slices == at_once).all()


def _lines(stream: io.BytesIO) -> list[list[str]]:
    return list(csv.reader(io.StringIO(stream.getvalue().decode(), newline="")))


def test_the_report_of_unknown_units_keeps_every_line_in_order() -> None:
    stream = io.BytesIO()
    units = UnknownUnits(stream)
    keys = pa.array(["K1", "K2", 'K"3'])
    units.write_rows(np.array([1, 2, 3]), keys, "owner_unit", pa.array(["某某, 公司", "乙", "丙"]))
    units.write_rows(np.array([2]), keys.slice(1, 1), "maintainer_unit", pa.array(["丁\n所"]))
    units.write_rows(np.array([7]), pa.array(["K7"]), "owner_unit", pa.array(["戊"]))
    units.close()
    assert units.count == 5
    assert _lines(stream) == [
        ["row", "key", "column", "value"],
        ["1", "K1", "owner_unit", "某某, 公司"],
        ["2", "K2", "owner_unit", "乙"],
        ["3", 'K"3', "owner_unit", "丙"],
        ["2", "K2", "maintainer_unit", "丁\n所"],
        ["7", "K7", "owner_unit", "戊"],
    ]


class _Full(io.BytesIO):
    def write(self, data: object) -> int:
        if len(self.getvalue()):
            raise OSError("No space left on device")
        return super().write(data)  # type: ignore[arg-type]


def test_a_failure_to_write_the_report_is_raised_not_lost() -> None:
    units = UnknownUnits(_Full())
    units.write_rows(np.array([1]), pa.array(["K1"]), "owner_unit", pa.array(["甲"]))
    with pytest.raises(OSError, match="No space left"):
        units.close()
