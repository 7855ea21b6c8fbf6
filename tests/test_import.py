"""Bulk import (入格): accept, reject with reasons, place, upsert idempotently."""

from __future__ import annotations

import csv
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from django.core.management import CommandError, call_command
from django.db.models import Sum

from layers.datum import point_from_storage
from layers.importing.core import import_file
from layers.importing.sources import SourceError
from layers.models import Area, Category, CategoryKind, Component, Person
from layers.validators import id_number_check_digit
from map_ui.tiles.models import TileCount, TileVersion

# Cell 440106001001001 spans 113.30–113.31 E, 23.10–23.11 N; 越秀 starts at 113.34 E.
TIANHE = (113.305, 23.105)
YUEXIU = (113.345, 23.105)

HEADER = ["code", "name", "state", "lon", "lat"]


@pytest.fixture
def catalogue(db: None) -> None:
    Category.objects.create(kind=CategoryKind.COMPONENT, major_code="01", name="公用设施")
    Category.objects.create(
        kind=CategoryKind.COMPONENT, major_code="01", minor_code="01", name="上水井盖"
    )
    Category.objects.create(
        kind=CategoryKind.COMPONENT, major_code="03", minor_code="02", name="垃圾箱"
    )


def write_csv(path: Path, rows: list[list[object]], header: list[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_report(path: Path) -> dict[int, str]:
    with path.open(encoding="utf-8") as f:
        return {int(r["row"]): r["reason"] for r in csv.DictReader(f)}


DIRTY_ROWS: list[list[object]] = [
    ["4401060101000001", "井盖一", "normal", *TIANHE],  # 1 ok
    ["4401040302000001", "垃圾箱", "破损", *YUEXIU],  # 2 ok, Chinese label for the state
    ["440106010100000", "短", "normal", *TIANHE],  # 3 15 digits
    ["4401060199000001", "未知小类", "normal", *TIANHE],  # 4 class 0199 not in catalogue
    ["4401040101000002", "错区", "normal", *TIANHE],  # 5 code says 越秀, point in 天河
    ["4401060101000003", "城外", "normal", 114.5, 23.105],  # 6 outside the city
    ["4401060101000004", "坏坐标", "normal", "abc", 23.105],  # 7 lon not a number
    ["4401060101000001", "重复", "normal", *TIANHE],  # 8 duplicate of row 1
    ["4401060101000005", "名" * 101, "normal", *TIANHE],  # 9 name too long
    ["4401060101000006", "坏状态", "broken", *TIANHE],  # 10 unknown state
    ["4401060101000007", "超界", "normal", 200.0, 23.1],  # 11 out of range
    ["4401060101000008", "井盖八", "", *TIANHE],  # 12 ok, state defaults to normal
]


def test_it_imports_a_dirty_csv_rejecting_each_bad_row_with_its_reason(
    small_city: dict[str, Area], catalogue: None, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "components.csv", DIRTY_ROWS)
    result = import_file("components", path)

    assert (result.read, result.inserted, result.updated, result.rejected) == (12, 3, 0, 9)
    assert result.read == result.inserted + result.updated + result.unchanged + result.rejected
    reasons = read_report(tmp_path / "components.rejected.csv")
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert "16" in reasons[3]
    assert "class 0199 is not in the catalogue" in reasons[4]
    assert "code names district 440104 but the point lies in 440106" in reasons[5]
    assert "outside every grid cell" in reasons[6]
    assert "not a number" in reasons[7]
    assert reasons[8] == "duplicate of row 1"
    assert "name has 101 characters, at most 100" in reasons[9]
    assert "state 'broken' is not one of" in reasons[10]
    assert "坐标超出范围" in reasons[11]

    first = Component.objects.get(code="4401060101000001")
    assert first.cell.code == "440106001001001"  # type: ignore[union-attr]
    assert (first.street.code, first.district.code) == ("440106001", "440106")  # type: ignore[union-attr]
    assert first.category.name == "上水井盖"
    second = Component.objects.get(code="4401040302000001")
    assert second.state == "damaged" and second.district.code == "440104"  # type: ignore[union-attr]
    assert Component.objects.get(code="4401060101000008").state == "normal"
    assert Component.objects.count() == 3


def test_it_changes_nothing_on_reimport_and_updates_only_changed_rows(
    small_city: dict[str, Area], catalogue: None, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "c.csv", DIRTY_ROWS[:2])
    import_file("components", path)
    stamp = Component.objects.get(code="4401060101000001").updated_at

    again = import_file("components", path)
    assert (again.inserted, again.updated, again.unchanged, again.rejected) == (0, 0, 2, 0)
    assert Component.objects.get(code="4401060101000001").updated_at == stamp

    moved = [["4401060101000001", "井盖一", "normal", 113.315, 23.105], DIRTY_ROWS[1]]
    changed = import_file("components", write_csv(tmp_path / "c.csv", moved))
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 1)
    # Moving the point re-placed the record into the neighbouring cell.
    assert Component.objects.get(code="4401060101000001").cell.code == "440106001001002"  # type: ignore[union-attr]


def test_it_converts_gcj02_coordinates_before_placing(
    small_city: dict[str, Area], catalogue: None, tmp_path: Path
) -> None:
    # A point that is in cell …001 in WGS 84, written as a phone map app would give it.
    gcj = point_from_storage(113.3005, 23.1005, "gcj02")
    assert gcj[0] - 113.3005 > 0.004  # the offset is several hundred metres here
    path = write_csv(tmp_path / "g.csv", [["4401060101000001", "井盖", "normal", *gcj]])
    import_file("components", path, datum="gcj02")
    stored = Component.objects.get()
    assert stored.cell.code == "440106001001001"  # type: ignore[union-attr]
    assert stored.geom.x == pytest.approx(113.3005, abs=1e-8)
    assert stored.geom.y == pytest.approx(23.1005, abs=1e-8)


def test_it_writes_nothing_on_a_dry_run(
    small_city: dict[str, Area], catalogue: None, tmp_path: Path
) -> None:
    result = import_file("components", write_csv(tmp_path / "d.csv", DIRTY_ROWS), dry_run=True)
    assert (result.inserted, result.rejected) == (3, 9)
    assert "dry run" in result.summary()
    assert not Component.objects.exists()


@pytest.mark.parametrize(
    ("suffix", "driver", "bad_geometry", "reason"),
    [
        (
            ".geojson",
            "GeoJSON",
            shapely.box(113.30, 23.10, 113.301, 23.101),
            "geometry must be a Point, got Polygon",
        ),
        (
            ".gpkg",
            "GPKG",
            shapely.box(113.30, 23.10, 113.301, 23.101),
            "geometry must be a Point, got Polygon",
        ),
        # A shapefile holds one geometry type: its bad row has no geometry at all.
        (".shp", "ESRI Shapefile", None, "no geometry"),
    ],
)
def test_it_reads_gis_files_and_rejects_unusable_geometries(
    small_city: dict[str, Area],
    catalogue: None,
    tmp_path: Path,
    suffix: str,
    driver: str,
    bad_geometry: shapely.Geometry | None,
    reason: str,
) -> None:
    frame = gpd.GeoDataFrame(
        {
            "code": ["4401060101000001", "4401060101000002", "4401060101000003"],
            "name": ["a", "b", "c"],
        },
        geometry=[shapely.Point(*TIANHE), bad_geometry, shapely.Point(113.3051, 23.1051)],
        crs="EPSG:4326",
    )
    path = tmp_path / f"components{suffix}"
    frame.to_file(path, driver=driver)
    result = import_file("components", path)
    assert (result.read, result.inserted, result.rejected) == (3, 2, 1)
    assert read_report(tmp_path / "components.rejected.csv") == {2: reason}
    assert set(Component.objects.values_list("code", flat=True)) == {
        "4401060101000001",
        "4401060101000003",
    }


def valid_id(first17: str) -> str:
    return first17 + id_number_check_digit(first17)


def test_it_imports_population_with_a_field_mapping_and_checks_id_numbers(
    small_city: dict[str, Area], tmp_path: Path
) -> None:
    good = valid_id("44010619900101123")
    with_x = next(
        valid_id(f"44010619850205{k:03d}")
        for k in range(1000)
        if valid_id(f"44010619850205{k:03d}").endswith("X")
    )
    bad_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    rows = [
        [good, "张三", "13800138000", "户籍人口", *TIANHE],
        [with_x.lower(), "李四", "", "floating", *TIANHE],
        [bad_check, "王五", "", "registered", *TIANHE],
        ["", "赵六", "", "registered", *TIANHE],
    ]
    path = write_csv(tmp_path / "p.csv", rows, ["SFZH", "XM", "DH", "LX", "x", "y"])
    result = import_file(
        "population",
        path,
        mapping={"id_number": "SFZH", "name": "XM", "phone": "DH", "person_type": "LX"},
    )
    assert (result.inserted, result.rejected) == (2, 2)
    reasons = read_report(tmp_path / "p.rejected.csv")
    assert set(reasons) == {3, 4}
    assert "id_number is empty" in reasons[4]
    assert Person.objects.get(id_number=good).person_type == "registered"
    # A lower-case x is stored as the standard upper-case X.
    assert Person.objects.filter(id_number=with_x).exists()


def test_it_explains_a_file_it_cannot_use(small_city: dict[str, Area], tmp_path: Path) -> None:
    no_key = write_csv(tmp_path / "n.csv", [["x", 1.0, 2.0]], ["name", "lon", "lat"])
    with pytest.raises(SourceError, match="no 'code' column"):
        import_file("components", no_key)
    with pytest.raises(SourceError, match="no column 'BH'"):
        import_file("components", no_key, mapping={"code": "BH"})
    with pytest.raises(SourceError, match="no lon column"):
        import_file("components", write_csv(tmp_path / "m.csv", [["1"]], ["code"]))
    with pytest.raises(CommandError, match="unknown datum 'mars'"):
        call_command("import_layer", "components", str(no_key), "--datum", "mars")


def test_the_command_prints_a_summary_that_adds_up(
    small_city: dict[str, Area], catalogue: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "c.csv", DIRTY_ROWS)
    call_command("import_layer", "components", str(path), "--no-progress")
    out = capsys.readouterr().out
    assert "read 12 = inserted 3 + updated 0 + unchanged 0 + rejected 9" in out
    assert "c.rejected.csv" in out
    assert Component.objects.count() == 3
    # The live map's per-cell counts are brought up to date by the command, not left to
    # the first map request after it.
    assert "tile counts and labels up to date" in out
    counted = TileVersion.objects.get(name="components")
    assert counted.counted == counted.version
    assert TileCount.objects.aggregate(n=Sum("components"))["n"] == 3


def test_it_finds_duplicates_across_batches_and_rebuilds_indexes_after_a_large_import(
    small_city: dict[str, Area],
    catalogue: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.db import connection

    from layers.importing import writer

    def index_names() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = %s",
                [Component._meta.db_table],
            )
            return {name for (name,) in cursor.fetchall()}

    before = index_names()
    # Any import counts as large here, so the drop-and-rebuild path runs on 4 rows.
    monkeypatch.setattr(writer, "BULK_MIN_ROWS", 1)
    rows = [*DIRTY_ROWS[:2], ["4401060101000009", "井盖九", "normal", *TIANHE], DIRTY_ROWS[0]]
    result = import_file("components", write_csv(tmp_path / "b.csv", rows), batch_size=2)
    assert (result.read, result.inserted, result.rejected) == (4, 3, 1)
    assert read_report(tmp_path / "b.rejected.csv") == {4: "duplicate of row 1"}
    assert index_names() == before
    assert (
        Component.objects.filter(geom__bboverlaps=shapely.box(*TIANHE, 113.306, 23.106).wkt).count()
        == 2
    )
