"""The base-layer API under /api/layers/: scope, masking, datum, filters, pages, schema."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from layers.datum import point_from_storage
from layers.models import (
    Address,
    Area,
    Building,
    Category,
    CategoryKind,
    Component,
    ComponentState,
    LegalEntity,
    Person,
    Tier,
)
from tests.cast import CELLS, centre

API = "/api/layers"


@pytest.fixture
def categories(db: None) -> dict[str, Category]:
    def add(major: str, minor: str, name: str) -> Category:
        return Category.objects.create(
            kind=CategoryKind.COMPONENT, major_code=major, minor_code=minor, name=name
        )

    return {
        "01": add("01", "", "公用设施"),
        "0101": add("01", "01", "上水井盖"),
        "0102": add("01", "02", "污水井盖"),
        "0201": add("02", "01", "交通信号灯"),
    }


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def get(client: Client, path: str, **params: str) -> tuple[int, Any]:
    response = client.get(f"{API}/{path}", params)
    return response.status_code, response.json()


def component(code: str, category: Category, point: Point, **fields: Any) -> Component:
    return Component.objects.create(code=code, category=category, geom=point, **fields)


# --- scope and masking -------------------------------------------------------------


def test_it_lists_only_the_street_users_records(
    cast: dict[str, User], residents: dict[str, Person]
) -> None:
    status, body = get(client_for(cast["street"]), "people/")
    assert status == 200
    assert body["type"] == "FeatureCollection"
    assert body["count"] == 2
    cells = sorted(f["properties"]["cell_code"] for f in body["features"])
    assert cells == [CELLS["own"], CELLS["street"]]
    feature = body["features"][0]
    assert feature["type"] == "Feature"
    assert feature["geometry"]["type"] == "Point"
    assert feature["properties"]["street_code"] == "440106001"
    assert feature["properties"]["district_code"] == "440106"
    assert feature["properties"]["community_code"] == feature["properties"]["cell_code"][:12]


def test_it_answers_404_for_another_streets_record(
    cast: dict[str, User], residents: dict[str, Person]
) -> None:
    client = client_for(cast["street"])
    hidden = residents["other_street"]
    status, body = get(client, f"people/{hidden.pk}/")
    missing_status, missing_body = get(client, "people/999999/")
    assert status == 404
    # Indistinguishable from an id that does not exist: ids cannot be probed.
    assert (status, body) == (missing_status, missing_body)
    status, body = get(client, f"people/{residents['own'].pk}/")
    assert status == 200
    assert body["id"] == residents["own"].pk
    assert Person.objects.filter(pk=hidden.pk).exists()


def test_it_gives_nothing_to_a_user_without_a_post(
    cast: dict[str, User], residents: dict[str, Person]
) -> None:
    client = client_for(cast["nobody"])
    assert get(client, "people/")[1]["count"] == 0
    assert get(client, f"people/{residents['own'].pk}/")[0] == 404
    # The frame of the map is shared: areas are readable by every user.
    assert get(client, "areas/", tier="district")[1]["count"] == 2


def test_it_refuses_anonymous_requests(residents: dict[str, Person]) -> None:
    for path in ("people/", "areas/", "categories/", f"people/{residents['own'].pk}/"):
        assert Client().get(f"{API}/{path}").status_code in (401, 403)


@pytest.mark.parametrize(
    ("username", "masked"),
    [("street", True), ("city", True), ("leader", True), ("data_admin", False), ("admin", False)],
)
def test_it_masks_personal_data_by_role(
    cast: dict[str, User], residents: dict[str, Person], username: str, masked: bool
) -> None:
    person = residents["own"]
    status, body = get(client_for(cast[username]), f"people/{person.pk}/")
    assert status == 200
    properties = body["properties"]
    assert properties["personal_data_masked"] is masked
    if masked:
        assert properties["id_number"] == "440106********0005"
        assert properties["name"] == "张*"
        assert properties["phone"] == "138****0000"
    else:
        assert properties["id_number"] == "440106199001010005"
        assert properties["name"] == "张三"
        assert properties["phone"] == "13812340000"
    # Not personal: shown to everyone who sees the record.
    assert properties["person_type"] == person.person_type
    assert Person.objects.get(pk=person.pk).id_number == "440106199001010005"


def test_it_unmasks_residents_of_the_inspectors_own_cells(
    cast: dict[str, User], residents: dict[str, Person]
) -> None:
    status, body = get(client_for(cast["inspector"]), "people/")
    assert status == 200
    assert [f["properties"]["id_number"] for f in body["features"]] == ["440106199001010005"]
    # The street dispatcher sees the same resident, masked.
    _, body = get(client_for(cast["street"]), "people/", cell=CELLS["own"])
    assert [f["properties"]["id_number"] for f in body["features"]] == ["440106********0005"]


def test_it_lists_people_in_a_fixed_number_of_queries(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    client = client_for(cast["street"])

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"{API}/people/").status_code == 200
        return len(queries)

    point = centre(small_city[CELLS["own"]])
    Person.objects.create(name="甲", id_number="440106199001010001", geom=point)
    queries_for_list()  # a session's first request reads its user apart (gridmgmt/sessions.py)
    few = queries_for_list()
    for n in range(2, 12):
        Person.objects.create(name="乙", id_number=f"4401061990010100{n:02d}", geom=point)
    assert queries_for_list() == few


# --- datum and bbox ----------------------------------------------------------------


@pytest.fixture
def grid_components(
    small_city: dict[str, Area], categories: dict[str, Category]
) -> dict[str, Component]:
    """One manhole cover at the centre of each cell of 天河's first street's first row."""
    found = {}
    for n, (x, y) in enumerate([(113.305, 23.105), (113.315, 23.105), (113.325, 23.105),
                                (113.305, 23.115), (113.305, 23.125)]):  # fmt: skip
        code = f"440106010100{n:04d}"
        found[f"{x},{y}"] = component(code, categories["0101"], Point(x, y, srid=4326))
    return found


def codes(body: dict[str, Any]) -> set[str]:
    return {f["properties"]["code"] for f in body["features"]}


def test_it_finds_the_same_records_with_an_equivalent_gcj02_bbox(
    cast: dict[str, User], grid_components: dict[str, Component]
) -> None:
    client = client_for(cast["city"])
    wgs_bbox = (113.30, 23.10, 113.32, 23.12)
    status, wgs_body = get(client, "components/", bbox=",".join(map(str, wgs_bbox)))
    assert status == 200
    expected = {grid_components[k].code for k in ("113.305,23.105", "113.315,23.105",
                                                 "113.305,23.115")}  # fmt: skip
    assert codes(wgs_body) == expected

    x0, y0 = point_from_storage(wgs_bbox[0], wgs_bbox[1], "gcj02")
    x1, y1 = point_from_storage(wgs_bbox[2], wgs_bbox[3], "gcj02")
    gcj_bbox = f"{x0},{y0},{x1},{y1}"
    status, gcj_body = get(client, "components/", bbox=gcj_bbox, datum="gcj02")
    assert status == 200
    assert codes(gcj_body) == expected
    # Read as WGS 84, the same numbers are a box a few hundred metres off.
    _, naive_body = get(client, "components/", bbox=gcj_bbox)
    assert codes(naive_body) != expected


def test_it_converts_output_coordinates_to_the_requested_datum(
    cast: dict[str, User], grid_components: dict[str, Component]
) -> None:
    client = client_for(cast["city"])
    stored = grid_components["113.305,23.105"]
    for datum in ("gcj02", "bd09", "wgs84", "cgcs2000"):
        status, body = get(client, f"components/{stored.pk}/", datum=datum)
        assert status == 200
        x, y = body["geometry"]["coordinates"]
        ex, ey = point_from_storage(113.305, 23.105, datum)
        assert x == pytest.approx(ex, abs=1e-9)
        assert y == pytest.approx(ey, abs=1e-9)
        if datum in ("gcj02", "bd09"):
            assert abs(x - 113.305) > 1e-3  # moved by the datum's offset
    # Storage is untouched.
    assert Component.objects.get(pk=stored.pk).geom.coords == (113.305, 23.105)


def test_it_converts_area_outlines_too(cast: dict[str, User], small_city: dict[str, Area]) -> None:
    status, body = get(client_for(cast["street"]), "areas/", code=CELLS["own"], datum="gcj02")
    assert status == 200
    [feature] = body["features"]
    assert feature["geometry"]["type"] == "MultiPolygon"
    ring = feature["geometry"]["coordinates"][0][0]
    stored_ring = small_city[CELLS["own"]].geom[0][0]
    assert len(ring) == len(stored_ring)
    for (x, y), (sx, sy) in zip(ring, stored_ring, strict=True):
        ex, ey = point_from_storage(sx, sy, "gcj02")
        assert (x, y) == (pytest.approx(ex, abs=1e-9), pytest.approx(ey, abs=1e-9))


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"datum": "utm50"}, "datum"),
        ({"bbox": "113.3,23.1,113.4"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"bbox": "113.4,23.1,113.3,23.2"}, "bbox"),
        ({"bbox": "113.3,95,113.4,96"}, "bbox"),
        ({"district": "44010"}, "district"),
        ({"district": "440199"}, "district"),
        ({"street": "440106"}, "street"),
        ({"cell": "x"}, "cell"),
        ({"category": "0199"}, "category"),
        ({"category": "1"}, "category"),
        ({"state": "broken"}, "state"),
        ({"limit": "many"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"offset": "-1"}, "offset"),
    ],
)
def test_it_answers_400_naming_the_bad_parameter(
    cast: dict[str, User], categories: dict[str, Category], params: dict[str, str], field: str
) -> None:
    status, body = get(client_for(cast["city"]), "components/", **params)
    assert status == 400
    assert list(body) == [field]
    assert body[field] and all(isinstance(message, str) for message in body[field])


def test_it_names_the_known_datums_when_one_is_unknown(cast: dict[str, User]) -> None:
    status, body = get(client_for(cast["city"]), "areas/", datum="utm50")
    assert status == 400
    assert "utm50" in body["datum"][0]
    assert "gcj02" in body["datum"][0]
    status, _ = get(client_for(cast["city"]), "areas/", datum="GCJ-02")  # an alias
    assert status == 200


# --- filters -----------------------------------------------------------------------


def test_it_filters_records_by_area_codes(
    cast: dict[str, User], residents: dict[str, Person]
) -> None:
    client = client_for(cast["city"])
    _, body = get(client, "people/", district="440106")
    assert body["count"] == 3
    _, body = get(client, "people/", street="440106001")
    assert body["count"] == 2
    _, body = get(client, "people/", community="440106001002")
    assert [f["properties"]["cell_code"] for f in body["features"]] == [CELLS["street"]]
    _, body = get(client, "people/", cell=CELLS["other_district"])
    assert [f["id"] for f in body["features"]] == [residents["other_district"].pk]
    # Filters narrow the user's scope, never widen it.
    _, body = get(client_for(cast["street"]), "people/", district="440104")
    assert body["count"] == 0


def test_it_filters_components_by_category_state_and_text(
    cast: dict[str, User], small_city: dict[str, Area], categories: dict[str, Category]
) -> None:
    point = centre(small_city[CELLS["own"]])
    water = component("4401060101000001", categories["0101"], point, name="上水井盖甲")
    sewer = component("4401060102000001", categories["0102"], point, state=ComponentState.MISSING)
    light = component("4401060201000001", categories["0201"], point, name="信号灯")
    client = client_for(cast["city"])

    def ids(**params: str) -> set[int]:
        status, body = get(client, "components/", **params)
        assert status == 200
        return {f["id"] for f in body["features"]}

    assert ids(category="0101") == {water.pk}
    assert ids(category="01") == {water.pk, sewer.pk}
    assert ids(state="missing") == {sewer.pk}
    assert ids(category="01", state="normal") == {water.pk}
    assert ids(q="信号") == {light.pk}
    assert ids(q="01020000") == {sewer.pk}
    _, body = get(client, f"components/{water.pk}/")
    assert body["properties"]["category_code"] == "0101"
    assert body["properties"]["category_name"] == "上水井盖"


def test_it_serves_entities_addresses_and_buildings(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    own = centre(small_city[CELLS["own"]])
    elsewhere = centre(small_city[CELLS["other_district"]])
    LegalEntity.objects.create(credit_code="91440106MA5AAAAA1X", name="天河科技公司", geom=own)
    LegalEntity.objects.create(credit_code="91440104MA5BBBBB2Y", name="越秀商行", geom=elsewhere)
    Address.objects.create(code="A1", text="天河路1号", geom=own)
    Address.objects.create(code="A2", text="越秀路2号", geom=elsewhere)
    Building.objects.create(code="B1", name="天河大厦", floors=30, geom=own)
    Building.objects.create(code="B2", name="越秀大楼", geom=elsewhere)
    client = client_for(cast["street"])
    _, body = get(client, "entities/")
    assert [f["properties"]["name"] for f in body["features"]] == ["天河科技公司"]
    _, body = get(client, "addresses/", q="天河路")
    assert [f["properties"]["text"] for f in body["features"]] == ["天河路1号"]
    _, body = get(client, "buildings/")
    assert [(f["properties"]["code"], f["properties"]["floors"]) for f in body["features"]] == [
        ("B1", 30)
    ]
    _, body = get(client_for(cast["city"]), "entities/", status="active", q="越秀")
    assert [f["properties"]["credit_code"] for f in body["features"]] == ["91440104MA5BBBBB2Y"]


def test_it_filters_areas(cast: dict[str, User], small_city: dict[str, Area]) -> None:
    client = client_for(cast["inspector"])

    def area_codes(**params: str) -> list[str]:
        status, body = get(client, "areas/", **params)
        assert status == 200
        return [f["properties"]["code"] for f in body["features"]]

    assert area_codes(tier="district") == ["440104", "440106"]
    assert area_codes(parent="440106") == ["440106001", "440106002"]
    assert area_codes(tier="street", code_prefix="440104") == ["440104001", "440104002"]
    assert area_codes(code="440106001001") == ["440106001001"]
    _, body = get(client, "areas/", code="440106001")
    assert body["features"][0]["properties"]["parent_code"] == "440106"
    assert body["features"][0]["properties"]["tier"] == Tier.STREET
    # 天河's west half as a box (border included) touches its cells and the city.
    west = area_codes(bbox="113.30,23.10,113.305,23.105", tier="cell")
    assert west == [CELLS["own"]]
    # A redrawn area is listed only on request.
    old = small_city[CELLS["own"]]
    Area.objects.create(
        tier=Tier.CELL, code=old.code, name="旧网格", parent=old.parent, geom=old.geom,
        valid_from=dt.date(2020, 1, 1), valid_to=dt.date(2023, 12, 31),
    )  # fmt: skip
    assert area_codes(code=old.code) == [old.code]
    assert area_codes(code=old.code, include_expired="true") == [old.code, old.code]


def test_it_lists_the_catalogue(cast: dict[str, User], categories: dict[str, Category]) -> None:
    Category.objects.create(
        kind=CategoryKind.EVENT, major_code="01", minor_code="01", name="暴露垃圾"
    )
    client = client_for(cast["hotline"])
    status, body = get(client, "categories/", kind="component", major="01")
    assert status == 200
    assert [c["code"] for c in body["results"]] == ["01", "0101", "0102"]
    status, body = get(client, "categories/", kind="event")
    assert [c["name"] for c in body["results"]] == ["暴露垃圾"]
    assert get(client, "categories/", kind="rules")[0] == 400


# --- pages -------------------------------------------------------------------------


def test_it_pages_with_limit_and_offset(
    cast: dict[str, User], grid_components: dict[str, Component]
) -> None:
    client = client_for(cast["city"])
    status, body = get(client, "components/", limit="2")
    assert status == 200
    assert body["count"] == 5
    assert len(body["features"]) == 2
    assert body["previous"] is None
    assert "limit=2" in body["next"] and "offset=2" in body["next"]
    _, last = get(client, "components/", limit="2", offset="4")
    assert len(last["features"]) == 1
    assert last["next"] is None
    all_ids = [f["id"] for f in get(client, "components/")[1]["features"]]
    assert all_ids == sorted(c.pk for c in grid_components.values())


def test_it_caps_the_page_size(cast: dict[str, User], small_city: dict[str, Area]) -> None:
    cell = small_city[CELLS["own"]]
    community = cell.parent
    assert community is not None and community.parent is not None
    placement = {
        "cell": cell,
        "community": community,
        "street": community.parent,
        "district": community.parent.parent,
    }
    Building.objects.bulk_create(
        Building(code=f"B{n:05d}", name="楼", geom=centre(cell), **placement) for n in range(1001)
    )
    status, body = get(client_for(cast["street"]), "buildings/", limit="5000")
    assert status == 200
    assert body["count"] == 1001
    assert len(body["features"]) == 1000
    assert "limit=1000" in body["next"]
    _, body = get(client_for(cast["street"]), "buildings/")
    assert len(body["features"]) == 100


# --- schema and docs ---------------------------------------------------------------


def test_it_generates_a_valid_schema_without_warnings(tmp_path: Path, db: None) -> None:
    target = tmp_path / "schema.json"
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json",
        "--file", str(target), stdout=io.StringIO(), stderr=io.StringIO(),
    )  # fmt: skip
    schema = json.loads(target.read_text())
    paths = schema["paths"]
    for name in ("areas", "people", "entities", "components", "addresses", "buildings",
                 "categories"):  # fmt: skip
        assert f"/api/layers/{name}/" in paths
        assert f"/api/layers/{name}/{{id}}/" in paths
    parameters = {p["name"]: p for p in paths["/api/layers/components/"]["get"]["parameters"]}
    assert {"bbox", "datum", "district", "street", "community", "cell", "category", "state",
            "q", "limit", "offset"} <= set(parameters)  # fmt: skip
    assert all(p.get("description") for p in parameters.values())
    assert parameters["datum"]["schema"]["enum"] == ["wgs84", "gcj02", "bd09", "cgcs2000"]
    area_parameters = {p["name"] for p in paths["/api/layers/areas/"]["get"]["parameters"]}
    assert {"tier", "code", "code_prefix", "parent", "bbox", "datum"} <= area_parameters
    page = schema["components"]["schemas"]["PaginatedPersonList"]
    assert page["properties"]["features"]["items"] == {"$ref": "#/components/schemas/Person"}
    assert "400" in paths["/api/layers/people/"]["get"]["responses"]
    assert "404" in paths["/api/layers/people/{id}/"]["get"]["responses"]
    # The case loop: intake, one endpoint per transition, geocoding, evaluation.
    for path in ("/api/cases/", "/api/cases/reports/", "/api/cases/tickets/",
                 "/api/cases/{id}/sign/", "/api/cases/{id}/verify/", "/api/geocode/",
                 "/api/evaluation/{by}/"):  # fmt: skip
        assert path in paths
    assert {"400", "403", "409"} <= set(paths["/api/cases/{id}/sign/"]["post"]["responses"])


def test_it_serves_the_api_docs_without_a_cdn(cast: dict[str, User]) -> None:
    response = client_for(cast["city"]).get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    # Protocol-relative addresses (//cdn.example/x.js) are fetched too.
    assert re.search(r"""(?:src|href)=["']//""", html) is None
    assert "https://" not in html and "http://" not in html
    assert Client().get("/api/schema/").status_code == 200
