"""check_grid on the small rectangular city of tests/cities.py, clean and broken on purpose.

Cells of community 440106001001 (cell edges are 0.01 degrees):
    003 | 004        x 113.30 … 113.32, y 23.10 … 23.12; community 440106001002 is east
    001 | 002        of it (x 113.32 … 113.34), and street 440106002 north (y ≥ 23.12).
"""

from io import StringIO

import pytest
from django.contrib.gis.geos import MultiPolygon, Point, Polygon
from django.core.management import call_command
from django.core.management.base import CommandError
from pyproj import Geod

from layers.grid_check import Finding, Problem, check_grid
from layers.models import Area, Person, Tier

GEOD = Geod(ellps="WGS84")


def box(x0: float, y0: float, x1: float, y1: float) -> MultiPolygon:
    ring = ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))
    return MultiPolygon(Polygon(ring, srid=4326), srid=4326)


def box_m2(x0: float, y0: float, x1: float, y1: float) -> float:
    return abs(GEOD.polygon_area_perimeter([x0, x1, x1, x0], [y0, y0, y1, y1])[0])


def set_geom(code: str, geom: MultiPolygon) -> None:
    Area.objects.filter(code=code).update(geom=geom)


def inside(finding: Finding, x0: float, y0: float, x1: float, y1: float) -> bool:
    assert finding.location is not None
    lon, lat = finding.location
    return x0 <= lon <= x1 and y0 <= lat <= y1


def test_it_finds_nothing_wrong_with_a_clean_city(small_city: dict[str, Area]) -> None:
    assert check_grid(tolerance_m2=0) == []


def test_it_reports_an_overlap_between_sibling_cells(small_city: dict[str, Area]) -> None:
    # Cell 001 grows east over half of cell 002.
    set_geom("440106001001001", box(113.30, 23.10, 113.315, 23.11))
    [finding] = check_grid()
    assert finding.problem == Problem.OVERLAP
    assert finding.tier == Tier.CELL
    assert finding.codes == ("440106001001001", "440106001001002")
    assert finding.area_m2 == pytest.approx(box_m2(113.31, 23.10, 113.315, 23.11), rel=1e-3)
    assert inside(finding, 113.31, 23.10, 113.315, 23.11)


def test_it_ignores_an_overlap_below_the_tolerance(small_city: dict[str, Area]) -> None:
    # 2e-9 degrees x 0.01 degrees: about 0.23 m².
    set_geom("440106001001001", box(113.30, 23.10, 113.310000002, 23.11))
    assert check_grid(tolerance_m2=1.0) == []
    [finding] = check_grid(tolerance_m2=0.01)
    assert finding.problem == Problem.OVERLAP
    assert finding.area_m2 == pytest.approx(0.23, abs=0.02)


def test_it_reports_a_gap_where_a_cell_was_removed(small_city: dict[str, Area]) -> None:
    Area.objects.filter(code="440106001001004").delete()
    [finding] = check_grid()
    assert finding.problem == Problem.GAP
    assert finding.tier == Tier.CELL
    assert finding.codes == ("440106001001",)
    assert finding.area_m2 == pytest.approx(box_m2(113.31, 23.11, 113.32, 23.12), rel=1e-3)
    assert inside(finding, 113.31, 23.11, 113.32, 23.12)


def test_it_reports_an_invalid_bow_tie(small_city: dict[str, Area]) -> None:
    # The ring crosses itself at the centre of cell 001.
    ring = ((113.30, 23.10), (113.31, 23.11), (113.31, 23.10), (113.30, 23.11), (113.30, 23.10))
    set_geom("440106001001001", MultiPolygon(Polygon(ring, srid=4326), srid=4326))
    findings = check_grid()
    invalid = [f for f in findings if f.problem == Problem.INVALID]
    assert len(invalid) == 1
    assert invalid[0].codes == ("440106001001001",)
    assert "Self-intersection" in invalid[0].detail
    assert invalid[0].location == pytest.approx((113.305, 23.105))
    # Repaired, the bow-tie is two triangles: the other half of the cell is a gap, and the
    # other checks still run.
    gaps = [f for f in findings if f.problem == Problem.GAP]
    assert {f.codes for f in gaps} == {("440106001001",)}
    assert sum(f.area_m2 or 0 for f in gaps) == pytest.approx(
        box_m2(113.30, 23.10, 113.31, 23.11) / 2, rel=1e-2
    )
    assert {f.problem for f in findings} == {Problem.INVALID, Problem.GAP}


def test_it_reports_a_cell_crossing_its_community(small_city: dict[str, Area]) -> None:
    # Cell 002 grows east into community 440106001002.
    set_geom("440106001001002", box(113.31, 23.10, 113.325, 23.11))
    [finding] = check_grid()
    assert finding.problem == Problem.OUTSIDE_PARENT
    assert finding.codes == ("440106001001002", "440106001001")
    assert finding.area_m2 == pytest.approx(box_m2(113.32, 23.10, 113.325, 23.11), rel=1e-3)
    assert inside(finding, 113.32, 23.10, 113.325, 23.11)
    assert str(finding).startswith("cell 440106001001002: 567,2")
    assert "m² outside its parent 440106001001 at 113.32" in str(finding)


def test_it_reports_orphan_codes(small_city: dict[str, Area]) -> None:
    Area.objects.filter(code="440106001001004").update(code="440106009001004")
    Area.objects.filter(code="440106001001003").update(code="44010600100100")
    findings = {f.codes[0]: f for f in check_grid()}
    assert set(findings) == {"440106009001004", "44010600100100"}
    wrong_prefix = findings["440106009001004"]
    assert wrong_prefix.problem == Problem.ORPHAN_CODE
    assert wrong_prefix.codes == ("440106009001004", "440106001001")
    assert wrong_prefix.detail == "code does not extend parent code 440106001001"
    assert inside(wrong_prefix, 113.31, 23.11, 113.32, 23.12)
    too_short = findings["44010600100100"]
    assert too_short.detail == "code has 14 characters, a cell code has 15 digits"


def test_it_reports_a_parent_of_the_wrong_tier_or_none(small_city: dict[str, Area]) -> None:
    street = small_city["440106001"]
    Area.objects.filter(code="440106001001002").update(parent=street)
    Area.objects.filter(code="440104002002004").update(parent=None)
    orphans = {f.codes[0]: f for f in check_grid() if f.problem == Problem.ORPHAN_CODE}
    assert set(orphans) == {"440106001001002", "440104002002004"}
    assert orphans["440106001001002"].detail == ("parent 440106001 is a street, not a community")
    assert orphans["440104002002004"].detail == "no parent"
    assert orphans["440104002002004"].codes == ("440104002002004",)


def test_it_reports_a_retired_parent(small_city: dict[str, Area]) -> None:
    Area.objects.filter(code="440104001001").update(valid_to="2024-06-30")
    orphans = [f for f in check_grid(tiers=["cell"]) if f.problem == Problem.ORPHAN_CODE]
    assert {f.codes[0] for f in orphans} == {f"440104001001{k:03d}" for k in range(1, 5)}
    assert orphans[0].detail == "parent 440104001001 was retired on 2024-06-30"


def test_it_counts_orphan_placements_per_layer(small_city: dict[str, Area]) -> None:
    placed = Person(name="张三", id_number="440106199001011234", geom=Point(113.305, 23.105))
    placed.save()  # placed by save(): no finding
    cell = small_city["440106001001001"]
    community = small_city["440106001001"]
    unplaced, missing, wrong = Person.objects.bulk_create(
        [
            Person(name="李四", id_number="440106199001012345", geom=Point(113.305, 23.105)),
            Person(
                name="王五",
                id_number="440106199001013456",
                geom=Point(113.305, 23.105),
                cell_id=987654321,
                community=community,
                street=community.parent,
                district=small_city["440106"],
            ),
            Person(
                name="赵六",
                id_number="440106199001014567",
                geom=Point(113.305, 23.105),
                cell=community,
                community=community,
                street=community.parent,
                district=small_city["440106"],
            ),
        ]
    )
    assert cell.pk is not None
    findings = {(f.layer, f.tier, f.detail): f for f in check_grid()}
    assert {key: (f.count, f.example_ids) for key, f in findings.items()} == {
        ("person", "cell", "not placed (NULL)"): (1, (unplaced.pk,)),
        ("person", "community", "not placed (NULL)"): (1, (unplaced.pk,)),
        ("person", "street", "not placed (NULL)"): (1, (unplaced.pk,)),
        ("person", "district", "not placed (NULL)"): (1, (unplaced.pk,)),
        ("person", "cell", "placed in a missing area"): (1, (missing.pk,)),
        ("person", "cell", "placed in an area of the wrong tier"): (1, (wrong.pk,)),
    }
    assert all(f.problem == Problem.ORPHAN_PLACEMENT for f in findings.values())
    assert str(findings[("person", "cell", "placed in a missing area")]) == (
        f"person.cell: 1 record placed in a missing area, e.g. id {missing.pk}"
    )
    # Restricted to the street tier, only the street field is checked.
    [street] = check_grid(tiers=[Tier.STREET])
    assert (street.layer, street.tier, street.count) == ("person", "street", 1)


def test_it_restricts_the_checks_to_a_tier(small_city: dict[str, Area]) -> None:
    set_geom("440106001001001", box(113.30, 23.10, 113.315, 23.11))
    Area.objects.filter(code="440104002").update(code="440105002")
    assert [f.problem for f in check_grid(tiers=["cell"])] == [Problem.OVERLAP]
    # The renamed street is reported, and so are its communities, whose codes no longer
    # extend their parent's.
    street = check_grid(tiers=["street"])
    assert [(f.problem, f.codes[0]) for f in street] == [(Problem.ORPHAN_CODE, "440105002")]
    assert {f.codes[0] for f in check_grid(tiers=["community"])} == {
        "440104002001",
        "440104002002",
    }


def test_it_refuses_an_unknown_tier(small_city: dict[str, Area]) -> None:
    with pytest.raises(ValueError, match="unknown tiers \\['province'\\]"):
        check_grid(tiers=["province"])


def test_it_prints_a_clean_report(small_city: dict[str, Area]) -> None:
    out = StringIO()
    call_command("check_grid", stdout=out)
    assert "check_grid: 47 current areas (all tiers), tolerance 1 m²" in out.getvalue()
    assert "no problems found" in out.getvalue()


def test_it_prints_the_problems_and_fails(small_city: dict[str, Area]) -> None:
    set_geom("440106001001002", box(113.31, 23.10, 113.325, 23.11))
    Area.objects.filter(code="440104002002004").delete()
    out = StringIO()
    with pytest.raises(CommandError, match="2 problems found") as failure:
        call_command("check_grid", "--tier", "cell", "--tolerance", "10", stdout=out)
    assert failure.value.returncode == 1
    report = out.getvalue()
    assert "(cell), tolerance 10 m²" in report
    assert "gaps: parts of a parent not covered by its children (1)" in report
    assert "community 440104002002: 1,13" in report
    assert " m² not covered by any cell at 113.3" in report
    assert "areas sticking out of their parent (1)" in report
    assert "cell 440106001001002: 567,2" in report
    assert "m² outside its parent 440106001001 at 113.32" in report
