import datetime as dt

import numpy as np
import pytest
import shapely
from django.contrib.gis.geos import Point
from pyproj import Geod

from fixtures.city import (
    CITY_CODE,
    DATA_DIR,
    DISTRICTS,
    CityHierarchy,
    HierarchyConflict,
    generate_city,
    load_hierarchy,
    plan_city,
    read_outline,
)
from layers.datum import from_storage
from layers.grid_check import check_grid
from layers.models import CODE_LENGTH, Area, AreaPiece, Tier
from layers.placement import place_point

# 越秀 and 天河: neighbours in the old urban core, small enough to generate in a second.
PAIR = ("440104", "440106")
VALID_FROM = dt.date(2024, 1, 1)
GEOD = Geod(ellps="WGS84")
PARENT_OF = {"district": "city", "street": "district", "community": "street", "cell": "community"}


def m2(geom: shapely.Geometry) -> float:
    """Area in square metres on the spheroid."""
    return abs(GEOD.geometry_area_perimeter(geom)[0])


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


@pytest.fixture(scope="module")
def pair() -> CityHierarchy:
    return generate_city(districts=PAIR)


def test_it_plans_the_whole_city_with_hierarchical_codes() -> None:
    plan = plan_city()
    counts = {tier: len(frame) for tier, frame in plan.items()}
    assert counts == {"city": 1, "district": 11, "street": 176, "community": 2630, "cell": 21040}
    assert plan["city"].loc[0, "code"] == CITY_CODE
    for tier, frame in plan.items():
        assert frame["code"].is_unique
        assert (frame["code"].str.len() == CODE_LENGTH[Tier(tier)]).all()
        assert frame["code"].str.fullmatch(r"\d+").all()
    for child, parent in PARENT_OF.items():
        frame = plan[child]
        assert set(frame["parent_code"]) == set(plan[parent]["code"])
        if child != "district":
            assert (frame["code"].str[:-3] == frame["parent_code"]).all()
    names = {tier: dict(zip(f["code"], f["name"], strict=True)) for tier, f in plan.items()}
    assert names["street"]["440106001"].endswith("街道")
    assert plan["street"]["name_en"].iloc[0] == "Liwan Street 1"
    # 从化 has 8 streets of which the last 5 are towns.
    assert names["street"]["440117004"].endswith("镇")
    assert names["street"]["440117003"].endswith("街道")
    assert plan["street"]["name"].is_unique
    assert not plan["community"].duplicated(["parent_code", "name"]).any()
    community = names["community"]["440106001001"]
    assert names["cell"]["440106001001002"] == f"{community}第2网格"


def test_it_plans_a_district_the_same_whichever_others_are_chosen() -> None:
    alone = plan_city(districts=["440106"])
    together = plan_city()
    for tier in ("street", "community", "cell"):
        subset = together[tier][together[tier]["code"].str.startswith("440106")]
        assert alone[tier].reset_index(drop=True).equals(subset.reset_index(drop=True))
    assert plan_city(seed=1)["street"]["name"].tolist() != together["street"]["name"].tolist()


def test_it_generates_the_planned_areas_with_valid_multipolygons(pair: CityHierarchy) -> None:
    plan = plan_city(districts=PAIR)
    for tier, frame in pair.tiers():
        assert frame[["code", "name", "name_en", "parent_code"]].equals(plan[tier])
        geoms = np.asarray(frame.geometry.values)
        assert (shapely.get_type_id(geoms) == 6).all()  # MultiPolygon
        assert shapely.is_valid(geoms).all()
        assert not shapely.is_empty(geoms).any()
        # Every vertex lies on the 1e-7 degree grid.
        coords = shapely.get_coordinates(geoms)
        assert np.abs(coords * 1e7 - np.round(coords * 1e7)).max() < 1e-4
    assert pair.counts() == {
        "city": 1,
        "district": 2,
        "street": 18 + 21,
        "community": 222 + 215,
        "cell": 8 * (222 + 215),
    }


def test_it_tiles_every_parent_exactly(pair: CityHierarchy) -> None:
    frames = dict(pair.tiers())
    for child, parent in PARENT_OF.items():
        parents = frames[parent].set_index("code").geometry
        for code, children in frames[child].groupby("parent_code"):
            geoms = np.asarray(children.geometry.values)
            # Neighbours share identical edges: a valid coverage, with no gap inside.
            assert shapely.coverage_is_valid(geoms)
            union = shapely.union_all(geoms)
            assert m2(shapely.symmetric_difference(union, parents[code])) <= 0.01
            overlap = sum(m2(g) for g in geoms) - m2(parents[code])
            assert abs(overlap) <= 0.01, f"children of {code} overlap by {overlap} m²"


def test_it_converts_the_real_outlines_from_gcj02(pair: CityHierarchy) -> None:
    tianhe = pair.districts.set_index("code").geometry["440106"]
    raw = shapely.from_geojson((DATA_DIR / "440106.geojson").read_text(encoding="utf-8"))
    # Stored in WGS 84: a few hundred metres from the GCJ-02 outline AMap publishes …
    stored = tianhe.centroid.coords[0]
    published = raw.centroid.coords[0]
    assert 300 < metres(stored, published) < 800
    # … and converted back it lands on it (the offset is smooth at this scale).
    lon, lat = from_storage(np.array([stored[0]]), np.array([stored[1]]), "gcj02")
    assert metres((float(lon[0]), float(lat[0])), published) < 5
    # The generated district is the real one, up to the centimetre grid.
    assert m2(shapely.symmetric_difference(tianhe, read_outline("440106"))) < 0.001 * m2(tianhe)


def test_it_generates_the_same_city_for_the_same_seed(pair: CityHierarchy) -> None:
    again = generate_city(districts=PAIR)
    other = generate_city(seed=7, districts=PAIR)
    same = np.asarray(pair.cells.geometry.values)
    assert shapely.equals_exact(same, np.asarray(again.cells.geometry.values), 0).all()
    assert not shapely.equals_exact(same, np.asarray(other.cells.geometry.values), 0).all()


@pytest.mark.django_db
def test_it_loads_the_hierarchy_once(django_assert_max_num_queries: object) -> None:
    counts = load_hierarchy(VALID_FROM, districts=PAIR)
    assert counts == {"city": 1, "district": 2, "street": 39, "community": 437, "cell": 3496}
    for tier, count in counts.items():
        assert Area.objects.current().filter(tier=tier).count() == count
    cell = Area.objects.select_related("parent__parent__parent__parent").get(code="440106001001001")
    assert cell.valid_from == VALID_FROM
    assert cell.parent is not None and cell.parent.code == "440106001001"
    assert [a.code for a in _ancestors(cell)] == ["440106001001", "440106001", "440106", "440100"]
    assert AreaPiece.objects.filter(tier=Tier.CELL).values("area").distinct().count() == 3496

    before = list(Area.objects.values_list("id", "code", "geom"))
    pieces = AreaPiece.objects.count()
    with django_assert_max_num_queries(2):  # type: ignore[operator]
        assert load_hierarchy(VALID_FROM, districts=PAIR) == counts
    assert list(Area.objects.values_list("id", "code", "geom")) == before
    assert AreaPiece.objects.count() == pieces

    with pytest.raises(HierarchyConflict, match="differ from the demo city for seed 7"):
        load_hierarchy(VALID_FROM, seed=7, districts=PAIR)


@pytest.mark.django_db
def test_it_places_points_of_the_generated_city(pair: CityHierarchy) -> None:
    load_hierarchy(VALID_FROM, districts=PAIR)
    cells = pair.cells
    geoms = np.asarray(cells.geometry.values)
    tree = shapely.STRtree(geoms)
    rng = np.random.default_rng(1)
    city = pair.city.geometry.iloc[0]
    xmin, ymin, xmax, ymax = city.bounds
    xy = rng.uniform((xmin, ymin), (xmax, ymax), size=(400, 2))
    xy = xy[shapely.contains_xy(city, xy[:, 0], xy[:, 1])][:100]
    # Plus points exactly on the border of 越秀 and 天河: shared vertices of both.
    border = shapely.intersection(*pair.districts.geometry.values)
    xy = np.vstack([xy, shapely.get_coordinates(border)[::50]])
    for x, y in xy:
        covering = tree.query(shapely.Point(x, y), predicate="covered_by")
        assert len(covering), (x, y)
        expected = min(cells["code"].iloc[covering])  # border-inclusive, lowest code wins
        placement = place_point(Point(float(x), float(y), srid=4326))
        assert placement.cell.code == expected
        assert placement.community.code == expected[:12]
        assert placement.district.code == expected[:6]
    lon, lat = shapely.get_coordinates(border)[0]
    assert place_point(Point(float(lon), float(lat), srid=4326)).district.code == "440104"


@pytest.mark.django_db
def test_it_loads_the_whole_city_with_an_exact_grid() -> None:
    counts = load_hierarchy(VALID_FROM)
    assert counts == {"city": 1, "district": 11, "street": 176, "community": 2630, "cell": 21040}
    assert Area.objects.current().count() == sum(counts.values())
    districts = set(Area.objects.filter(tier=Tier.DISTRICT).values_list("code", flat=True))
    assert districts == set(DISTRICTS)
    # Exact at every tier, as PostGIS sees it: no overlap, gap or overhang above 0.01 m².
    assert check_grid(tolerance_m2=0.01) == []
    # 天河 sports centre (WGS 84) lies in 天河.
    assert place_point(Point(113.3203, 23.1372, srid=4326)).district.code == "440106"


def _ancestors(area: Area) -> list[Area]:
    out = []
    while area.parent is not None:
        area = area.parent
        out.append(area)
    return out
