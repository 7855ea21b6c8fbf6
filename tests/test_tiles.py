"""Vector tiles of the live map (map_ui/tiles): layers by zoom, properties, scoping by the
access functions, aggregation and its invalidation, caching, and no personal data.

Tiles are decoded with GDAL's MVT driver (through pyogrio), which reads a tile from a
…/z/x/y.pbf path and places its features in Web Mercator."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.gis.geos import Point
from django.db import connection
from django.test import Client
from django.utils import translation

from incidents.models import Case, State
from incidents.outbox import sequence
from layers.models import (
    Area,
    Category,
    CategoryKind,
    Component,
    LegalEntity,
    Person,
    Staff,
    Unit,
    UnitKind,
)
from map_ui.tiles import counts, tile_urls
from map_ui.tiles.models import TileCount, TileDirty, TileVersion
from tests.cast import CELLS, centre
from tests.loop import INSPECTOR_CELL, OTHER_STREET_CELL, YUEXIU_CELL, client_for, report

MVT = "application/vnd.mapbox-vector-tile"
Features = dict[str, list[dict[str, Any]]]


def tile_of(point: Point, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((point.x + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(point.y))) / math.pi) / 2.0 * n)
    return x, y


class Tiles:
    """Fetches and decodes tiles as one user."""

    def __init__(self, user: User | None, folder: Path) -> None:
        self.client = Client()
        if user is not None:
            self.client.force_login(user)
        self.folder = folder

    def get(self, layer: str, point: Point, z: int, **headers: str) -> Any:
        x, y = tile_of(point, z)
        return self.client.get(f"/map/tiles/{layer}/{z}/{x}/{y}.pbf", headers=headers)

    def features(self, layer: str, point: Point, z: int) -> Features:
        """{MVT layer name: [properties]}; {} for an empty tile (204)."""
        import pyogrio

        response = self.get(layer, point, z)
        if response.status_code == 204:
            return {}
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == MVT
        x, y = tile_of(point, z)
        path = self.folder / layer / str(z) / str(x) / f"{y}.pbf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(response.content)
        out: Features = {}
        for name, _ in pyogrio.list_layers(path):
            frame = pyogrio.read_dataframe(path, layer=name)
            out[str(name)] = [
                {k: v for k, v in row.items() if k not in ("mvt_id",)}
                for row in frame.to_dict("records")
            ]
        return out


@pytest.fixture
def tiles(tmp_path: Path) -> Any:
    return lambda user: Tiles(user, tmp_path)


def add_component(city: dict[str, Area], cell: str, serial: int, *, dx: float = 0.0) -> Component:
    category = Category.objects.filter(kind=CategoryKind.COMPONENT).exclude(minor_code="").first()
    assert category is not None
    p = centre(city[cell])
    return Component.objects.create(
        code=f"{cell[:6]}{category.code}{serial:06d}",
        category=category,
        geom=Point(p.x + dx, p.y, srid=4326),
    )


def ids(features: Features, layer: str) -> set[int]:
    return {int(f["id"]) for f in features.get(layer, [])}


# --- access -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_and_inactive_users_are_refused(cast: dict[str, User], tiles: Any) -> None:
    where = centre(Area.objects.get(code=INSPECTOR_CELL))
    for layer in ["areas", "cases", "components"]:
        response = tiles(None).get(layer, where, 14)
        assert response.status_code == 403
        assert "登录" in response.content.decode()
    user = cast["street"]
    user.is_active = False
    user.save()
    assert Client().get("/map/tiles/areas/14/0/0.pbf").status_code == 403
    assert tile_urls(AnonymousUser()) == {}
    assert Client().get("/map/tiles/urls.json").status_code == 403


@pytest.mark.django_db
def test_unknown_layer_and_tiles_outside_the_world_are_not_found(cast: dict[str, User]) -> None:
    client = client_for(cast["city"])
    assert client.get("/map/tiles/people/14/0/0.pbf").status_code == 404
    assert client.get("/map/tiles/areas/3/8/0.pbf").status_code == 404  # x < 2**3
    assert client.get("/map/tiles/areas/23/0/0.pbf").status_code == 404  # beyond MAX_ZOOM
    assert client.post("/map/tiles/areas/3/0/0.pbf").status_code == 405


@pytest.mark.django_db
def test_components_are_scoped_like_the_api(
    loop: dict[str, User], small_city: dict[str, Area], tiles: Any
) -> None:
    placed = {
        key: add_component(small_city, code, n).pk for n, (key, code) in enumerate(CELLS.items())
    }
    # Tiles at z17 are smaller than a cell: one per component's cell.
    seen: dict[str, set[str]] = {}
    for username in ["city", "district", "street", "inspector", "inspector2", "nobody"]:
        fetch = tiles(loop[username])
        seen[username] = set()
        for key, code in CELLS.items():
            found = ids(fetch.features("components", centre(small_city[code]), 17), "components")
            assert found <= {placed[key]}
            if found:
                seen[username].add(key)
    assert seen["city"] == set(CELLS)
    assert seen["district"] == {"own", "street", "other_street"}
    assert seen["street"] == {"own", "street"}
    assert seen["inspector"] == {"own"}
    assert seen["inspector2"] == {"street"}  # the street's cells 4-6 are theirs
    assert seen["nobody"] == set()
    # The API agrees, record by record.
    for username in ["city", "district", "street", "inspector", "inspector2"]:
        api = client_for(loop[username]).get("/api/layers/components/")
        assert api.status_code == 200
        listed = {feature["id"] for feature in api.json()["features"]}
        assert listed == {placed[key] for key in seen[username]}, username


@pytest.mark.django_db
def test_a_user_moved_to_another_street_gets_that_streets_tiles(
    loop: dict[str, User], small_city: dict[str, Area], tiles: Any
) -> None:
    # A tile's SQL is built once per post and kept (map_ui.tiles.sql): the new post must
    # get its own, and the browser's copy must not be answered "not modified".
    for n, code in enumerate(CELLS.values()):
        add_component(small_city, code, n)
    fetch = tiles(loop["street"])

    def seen() -> set[str]:
        return {
            key
            for key, code in CELLS.items()
            if ids(fetch.features("components", centre(small_city[code]), 17), "components")
        }

    own = centre(small_city[CELLS["own"]])
    before = fetch.get("components", own, 17)
    assert seen() == {"own", "street"}
    staff = Staff.objects.get(user=loop["street"])
    staff.unit = Unit.objects.get(area__code="440106002", kind=UnitKind.TERRITORIAL)
    staff.save()
    assert seen() == {"other_street"}
    assert fetch.get("components", own, 17, If_None_Match=before["ETag"]).status_code == 204


@pytest.mark.django_db
def test_component_features_carry_id_state_and_class(
    loop: dict[str, User], small_city: dict[str, Area], tiles: Any
) -> None:
    component = add_component(small_city, INSPECTOR_CELL, 7)
    features = tiles(loop["street"]).features("components", component.geom, 17)
    assert features["components"] == [
        {
            "id": component.pk,
            "state": "normal",
            "category": component.category.code,
            "geometry": features["components"][0]["geometry"],
        }
    ]


@pytest.mark.django_db
def test_empty_tile_answers_204(loop: dict[str, User], tiles: Any) -> None:
    far = Point(100.0, 40.0, srid=4326)  # far outside the city
    for layer in ["areas", "cells", "components", "population", "cases"]:
        assert tiles(loop["city"]).get(layer, far, 15).status_code == 204


# --- areas and cells ------------------------------------------------------------------


@pytest.mark.django_db
def test_area_outlines_by_zoom(
    cast: dict[str, User], small_city: dict[str, Area], tiles: Any
) -> None:
    where = centre(small_city[INSPECTOR_CELL])
    fetch = tiles(cast["inspector"])  # areas are the shared frame: any post sees them all
    assert set(fetch.features("areas", where, 8)) == {"district"}
    assert set(fetch.features("areas", where, 10)) == {"district", "street"}
    z12 = fetch.features("areas", where, 12)
    assert set(z12) == {"district", "street", "community"}
    assert {f["code"] for f in z12["district"]} == {"440106", "440104"}
    assert {f["name"] for f in z12["street"]} >= {"天河区第1街道"}
    assert fetch.get("cells", where, 12).status_code == 204  # cells from z13
    cells = fetch.features("cells", where, 13)["cells"]
    assert INSPECTOR_CELL in {f["code"] for f in cells}
    assert set(cells[0]) == {"id", "code", "name", "geometry"}


# --- aggregation ----------------------------------------------------------------------


@pytest.mark.django_db
def test_low_zooms_count_per_community_and_cell_within_scope(
    loop: dict[str, User], small_city: dict[str, Area], tiles: Any
) -> None:
    for n in range(3):
        add_component(small_city, INSPECTOR_CELL, n, dx=n * 1e-4)
    add_component(small_city, "440106001001002", 10)  # same community, the next cell
    add_component(small_city, YUEXIU_CELL, 11)
    community = small_city[INSPECTOR_CELL[:12]]
    where = centre(small_city[INSPECTOR_CELL])

    city = tiles(loop["city"]).features("components", where, 12)["components"]
    by_code = {f["code"]: f for f in city}
    assert by_code[community.code]["count"] == 4
    assert by_code[community.code]["level"] == "community"
    assert by_code[community.code]["id"] == community.pk
    assert by_code[YUEXIU_CELL[:12]]["count"] == 1

    per_cell = tiles(loop["city"]).features("components", where, 14)["components"]
    assert {f["code"]: f["count"] for f in per_cell}[INSPECTOR_CELL] == 3
    assert {f["level"] for f in per_cell} == {"cell"}

    # The inspector owns 440106001001001-003: 4 of theirs, none of 越秀's.
    inspector = tiles(loop["inspector"]).features("components", where, 12)["components"]
    assert {f["code"]: f["count"] for f in inspector} == {community.code: 4}
    street = tiles(loop["street"]).features("components", where, 12)["components"]
    assert YUEXIU_CELL[:12] not in {f["code"] for f in street}
    assert tiles(loop["nobody"]).get("components", where, 12).status_code == 204


@pytest.mark.django_db
def test_counts_follow_every_change_of_the_layer(
    loop: dict[str, User], small_city: dict[str, Area], tiles: Any
) -> None:
    where = centre(small_city[INSPECTOR_CELL])
    fetch = tiles(loop["city"])
    first = add_component(small_city, INSPECTOR_CELL, 1)
    before = tile_urls(loop["city"])["components"]
    assert _count(fetch.features("components", where, 14), INSPECTOR_CELL) == 1

    add_component(small_city, INSPECTOR_CELL, 2)  # an interactive save
    after = tile_urls(loop["city"])["components"]
    assert after != before
    assert _count(fetch.features("components", where, 14), INSPECTOR_CELL) == 2

    # A set-based write (as imports and redraws do) moves the first one to 越秀.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE layers_component SET cell_id = %s, community_id = %s, street_id = %s, "
            "district_id = %s WHERE id = %s",
            [
                small_city[YUEXIU_CELL].pk,
                small_city[YUEXIU_CELL[:12]].pk,
                small_city[YUEXIU_CELL[:9]].pk,
                small_city[YUEXIU_CELL[:6]].pk,
                first.pk,
            ],
        )
    assert tile_urls(loop["city"])["components"] != after
    assert _count(fetch.features("components", where, 14), INSPECTOR_CELL) == 1
    other = centre(small_city[YUEXIU_CELL])
    assert _count(fetch.features("components", other, 14), YUEXIU_CELL) == 1
    version = TileVersion.objects.get(name="components")
    assert version.counted == version.version


@pytest.mark.django_db
def test_a_write_recounts_the_cells_it_touched_and_no_other(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    def counted(code: str) -> int:
        return TileCount.objects.get(cell_id=small_city[code].pk).components

    def marked() -> set[str]:
        cells = TileDirty.objects.filter(layer="components").values_list("cell_id", flat=True)
        return {"all" if pk is None else Area.objects.get(pk=pk).code for pk in cells}

    add_component(small_city, INSPECTOR_CELL, 1)
    counts.refresh()
    assert marked() == set() and counted(INSPECTOR_CELL) == 1
    # A count gone wrong elsewhere shows whether a refresh recounts more than it must.
    TileCount.objects.filter(cell_id=small_city[YUEXIU_CELL].pk).update(components=99)

    moved = add_component(small_city, INSPECTOR_CELL, 2)  # an interactive save
    assert marked() == {INSPECTOR_CELL}
    counts.refresh()
    assert (marked(), counted(INSPECTOR_CELL), counted(YUEXIU_CELL)) == (set(), 2, 99)

    # An update marks the cell a record left and the one it went to.
    Component.objects.filter(pk=moved.pk).update(
        cell=small_city[OTHER_STREET_CELL],
        community=small_city[OTHER_STREET_CELL[:12]],
        street=small_city[OTHER_STREET_CELL[:9]],
    )
    assert marked() == {INSPECTOR_CELL, OTHER_STREET_CELL}
    counts.refresh()
    assert (counted(INSPECTOR_CELL), counted(OTHER_STREET_CELL), counted(YUEXIU_CELL)) == (1, 1, 99)

    Component.objects.filter(pk=moved.pk).delete()
    assert marked() == {OTHER_STREET_CELL}
    counts.refresh()
    assert (counted(OTHER_STREET_CELL), counted(YUEXIU_CELL)) == (0, 99)

    # A TRUNCATE marks every cell: the whole layer is recounted.
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE layers_component")
    assert marked() == {"all"}
    counts.refresh()
    assert (marked(), counted(INSPECTOR_CELL), counted(YUEXIU_CELL)) == (set(), 0, 0)


def _count(features: Features, code: str) -> int:
    return int({f["code"]: f["count"] for f in features.get("components", [])}.get(code, 0))


@pytest.mark.django_db
def test_population_is_counts_only_never_a_person(
    loop: dict[str, User], small_city: dict[str, Area], residents: dict[str, Person], tiles: Any
) -> None:
    own = residents["own"]
    Person.objects.create(
        name="赵六", id_number=own.id_number[:-4] + "0010", phone="13900000000", geom=own.geom
    )
    fetch = tiles(loop["city"])
    where = own.geom
    for z in [10, 12, 14, 16, 18]:
        response = fetch.get("population", where, z)
        assert response.status_code == 200
        for person in Person.objects.all():
            for secret in (person.name, person.id_number, person.phone):
                assert secret.encode() not in response.content
    points = fetch.features("population", where, 17)["population"]
    assert [set(f) for f in points] == [{"count", "geometry"}]
    assert points[0]["count"] == 2  # the two people at the same address
    cells = fetch.features("population", where, 14)["population"]
    cell = small_city[INSPECTOR_CELL]
    mine = next(f for f in cells if f["code"] == INSPECTOR_CELL)
    km2 = _km2(cell)
    assert mine["count"] == 2
    assert mine["density"] == pytest.approx(2 / km2, rel=1e-6)


def _km2(area: Area) -> float:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_Area(geom::geography) / 1e6 FROM layers_area WHERE id = %s", [area.pk]
        )
        return float(cursor.fetchone()[0])  # type: ignore[index]


# --- cases ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_cases_carry_state_category_and_deadline(
    loop: dict[str, User], small_city: dict[str, Area], tiles: Any
) -> None:
    made = []
    for _ in range(5):
        response = report(loop["inspector"], small_city)
        assert response.status_code == 201, response.content
        made.append(Case.objects.get(pk=response.json()["case"]["id"]))
    on_time, warning, overdue, none, closed = made
    Case.objects.filter(pk__in=[p.pk for p in made]).update(due_at=None)
    Case.objects.filter(pk__in=[on_time.pk, warning.pk, overdue.pk]).update(
        due_at=on_time.created_at
    )
    Case.objects.filter(pk=warning.pk).update(warned=True)
    Case.objects.filter(pk=overdue.pk).update(warned=True, overdue=True, urgent=True)
    Case.objects.filter(pk=closed.pk).update(state=State.CLOSED)

    where = on_time.geom
    features = tiles(loop["street"]).features("cases", where, 16)["cases"]
    by_id = {int(f["id"]): f for f in features}
    assert set(by_id) == {on_time.pk, warning.pk, overdue.pk, none.pk}  # closed: not shown
    assert {k: by_id[k]["deadline"] for k in by_id} == {
        on_time.pk: "on_time",
        warning.pk: "warning",
        overdue.pk: "overdue",
        none.pk: "none",
    }
    assert by_id[overdue.pk]["urgent"] is True or by_id[overdue.pk]["urgent"] == 1
    assert by_id[on_time.pk]["category"] == on_time.category.code
    assert by_id[on_time.pk]["state"] == Case.objects.get(pk=on_time.pk).state
    assert set(by_id[on_time.pk]) == {"id", "state", "category", "urgent", "deadline", "geometry"}

    community = small_city[INSPECTOR_CELL[:12]]
    low = tiles(loop["street"]).features("cases", where, 11)["cases"]
    mine = next(f for f in low if f["code"] == community.code)
    assert (mine["count"], mine["overdue"], mine["warning"], mine["urgent"]) == (4, 1, 1, 1)


@pytest.mark.django_db
def test_cases_are_scoped_by_case_scope(
    loop: dict[str, User], small_city: dict[str, Area], tiles: Any
) -> None:
    response = report(loop["inspector"], small_city)
    assert response.status_code == 201
    case = Case.objects.get(pk=response.json()["case"]["id"])
    for username, sees in {
        "city": True,
        "hotline": True,
        "district": True,
        "street": True,
        "inspector": True,
        "inspector2": False,
        "department": False,
        "data_admin": False,
        "nobody": False,
    }.items():
        for z in (11, 16):
            got = tiles(loop[username]).features("cases", case.geom, z).get("cases", [])
            visible = bool(got) and (z < 13 or case.pk in {int(f["id"]) for f in got})
            assert visible is sees, (username, z)


# --- caching --------------------------------------------------------------------------


@pytest.mark.django_db
def test_etag_304_and_a_new_version_when_a_case_changes(
    loop: dict[str, User], small_city: dict[str, Area], tiles: Any
) -> None:
    assert report(loop["inspector"], small_city).status_code == 201
    fetch = tiles(loop["street"])
    where = centre(small_city[INSPECTOR_CELL])
    first = fetch.get("cases", where, 16)
    assert first.status_code == 200
    assert first["Cache-Control"] == "private, max-age=300"
    etag = first["ETag"]
    again = fetch.get("cases", where, 16, If_None_Match=etag)
    assert again.status_code == 304
    assert again["ETag"] == etag
    assert again.content == b""
    # Another user's tile is another ETag: the same browser signed in as them re-fetches.
    other = tiles(loop["district"]).get("cases", where, 16, If_None_Match=etag)
    assert other.status_code == 200

    template = tile_urls(loop["street"])["cases"]
    assert template.startswith("/map/tiles/cases/{z}/{x}/{y}.pbf?v=")
    assert report(loop["inspector"], small_city).status_code == 201  # a new outbox event
    sequence()  # numbered after commit (the test's transaction never commits)
    assert tile_urls(loop["street"])["cases"] != template
    changed = fetch.get("cases", where, 16, If_None_Match=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert len(changed.content) > len(first.content)


@pytest.mark.django_db
def test_tile_urls_lists_every_layer_with_its_version(cast: dict[str, User]) -> None:
    urls = tile_urls(cast["inspector"])
    assert set(urls) == {"areas", "cells", "components", "entities", "population", "cases"}
    for layer, template in urls.items():
        assert template.startswith(f"/map/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf?v=")
    response = client_for(cast["inspector"]).get("/map/tiles/urls.json")
    assert response.status_code == 200
    assert response.json() == urls
    # A change of the areas (a redraw) changes the areas' token and every layer drawn at
    # the areas' label points.
    Area.objects.filter(code=INSPECTOR_CELL).update(name="改名网格")
    renamed = tile_urls(cast["inspector"])
    assert all(renamed[layer] != urls[layer] for layer in urls)


# --- beside the tiles: labels, stacks of cases, popups (map_ui/tiles/overlay.py) --------


def _bbox(area: Area) -> str:
    return ",".join(f"{v:.6f}" for v in area.geom.extent)


@pytest.mark.django_db
def test_labels_name_one_tier_per_zoom_inside_the_view_in_the_users_language(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    client = client_for(cast["street"])
    city = small_city["440100"]

    def labels(z: int, area: Area = city, language: str = "zh-hans") -> dict[str, Any]:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        response = client.get(f"/map/tiles/labels.json?z={z}&bbox={_bbox(area)}")
        assert response.status_code == 200, response.content
        assert "private" in response["Cache-Control"]
        return dict(response.json())

    assert {label["code"] for label in labels(10)["labels"]} == {"440106", "440104"}
    assert labels(10)["tier"] == "district"
    assert {lb["code"] for lb in labels(12)["labels"]} == {
        "440106001",
        "440106002",
        "440104001",
        "440104002",
    }
    community = small_city[INSPECTOR_CELL[:12]]
    inside = labels(14, community)["labels"]
    assert [lb["code"] for lb in inside] == [community.code]  # neighbours' points lie outside
    assert inside[0]["name"] == community.name
    lon, lat = inside[0]["point"]
    point = Point(lon, lat, srid=4326)
    assert community.geom.contains(point)
    cells = labels(16, community)["labels"]
    assert len(cells) == 4 and {lb["tier"] for lb in cells} == {"cell"}

    # English where the area has an English name; the Chinese one where it has none.
    Area.objects.filter(code="440106").update(name_en="Tianhe District")
    names = {lb["code"]: lb["name"] for lb in labels(10, language="en")["labels"]}
    assert names == {"440106": "Tianhe District", "440104": "越秀区"}
    assert {lb["name"] for lb in labels(10)["labels"]} == {"天河区", "越秀区"}


@pytest.mark.django_db
def test_overlay_answers_refuse_bad_input_and_anonymous_users(cast: dict[str, User]) -> None:
    client = client_for(cast["street"])
    for query in ["z=99&bbox=0,0,1,1", "z=x&bbox=0,0,1,1", "z=10&bbox=1,0,0,1", "z=10&bbox=a"]:
        for name in ["labels", "stacks"]:
            response = client.get(f"/map/tiles/{name}.json?{query}")
            assert response.status_code == 400, (name, query)
            assert set(response.json()) == {"detail", "code", "field"}
            assert response.json()["code"] == "invalid"
    assert Client().get("/map/tiles/labels.json?z=10&bbox=0,0,1,1").status_code == 403
    assert Client().get("/map/tiles/info/cells/1.json").status_code == 403
    missing = client.get("/map/tiles/info/cells/999999.json")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


@pytest.mark.django_db
def test_cases_on_one_spot_are_a_stack_with_their_count_within_scope(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    made = []
    for _ in range(3):
        response = report(loop["inspector"], small_city)
        assert response.status_code == 201, response.content
        made.append(response.json()["case"]["id"])
    alone = report(loop["inspector"], small_city)
    assert alone.status_code == 201
    # Moved to another street: a case on its own is not a stack.
    far = centre(small_city[OTHER_STREET_CELL])
    Case.objects.filter(pk=alone.json()["case"]["id"]).update(geom=far)
    Case.objects.filter(pk=made[2]).update(state=State.CLOSED)  # closed: not on the map
    city = _bbox(small_city["440100"])

    def stacks(user: User, z: int) -> list[dict[str, Any]]:
        response = client_for(user).get(f"/map/tiles/stacks.json?z={z}&bbox={city}")
        assert response.status_code == 200, response.content
        return list(response.json()["stacks"])

    found = stacks(loop["city"], 15)
    assert [(s["count"], sorted(s["ids"])) for s in found] == [(2, sorted(made[:2]))]
    spot = centre(small_city[INSPECTOR_CELL])
    assert found[0]["point"] == pytest.approx([spot.x, spot.y], abs=1e-5)
    assert stacks(loop["city"], 12) == []  # below the points' zoom the tiles count per area
    assert stacks(loop["inspector2"], 15) == []  # not theirs
    assert stacks(loop["street"], 15)[0]["count"] == 2


@pytest.mark.django_db
def test_popups_tell_a_cells_community_and_inspectors_and_a_features_facts(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    cell = small_city[INSPECTOR_CELL]
    inspector = loop["inspector"]
    inspector.first_name = "小明"
    inspector.last_name = "王"
    inspector.save()
    client = client_for(loop["street"])
    answer = client.get(f"/map/tiles/info/cells/{cell.pk}.json").json()
    rows = dict(answer["rows"])
    assert rows["编码"] == cell.code and rows["名称"] == cell.name
    assert cell.parent is not None and rows["所属社区"] == cell.parent.name
    assert inspector.get_full_name() in rows["网格员"]

    component = add_component(small_city, INSPECTOR_CELL, 1)
    Component.objects.filter(pk=component.pk).update(maintainer_unit="市政养护公司")
    rows = dict(client.get(f"/map/tiles/info/components/{component.pk}.json").json()["rows"])
    assert rows["编码"] == component.code
    assert rows["类别"] == component.category.name
    assert rows["养护单位"] == "市政养护公司"
    assert rows["状态"] == "完好"
    # Scoped like the tiles: another street's inspector does not see it.
    other = client_for(loop["inspector2"]).get(f"/map/tiles/info/components/{component.pk}.json")
    assert other.status_code == 404

    entity = LegalEntity.objects.create(
        credit_code="91440106MA5AAAAA1X", name="天河科技公司", geom=centre(cell)
    )
    answer = client.get(f"/map/tiles/info/entities/{entity.pk}.json").json()
    assert answer["title"] == "天河科技公司"
    assert dict(answer["rows"])["统一社会信用代码"] == "91440106MA5AAAAA1X"
    hidden = client_for(loop["inspector2"]).get(f"/map/tiles/info/entities/{entity.pk}.json")
    assert hidden.status_code == 404

    response = report(loop["inspector"], small_city)
    case = Case.objects.get(pk=response.json()["case"]["id"])
    answer = client.get(f"/map/tiles/info/cases/{case.pk}.json").json()
    assert answer["title"].endswith(f"#{case.pk}")
    rows = dict(answer["rows"])
    assert rows["类别"] == case.category.name
    assert rows["状态"] == State(case.state).label
    assert rows["处置时限"] in {"正常", "未计时"}
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get(f"/map/tiles/info/cases/{case.pk}.json").json()
    with translation.override("en"):
        assert english["rows"][1][1] == str(State(case.state).label)  # the page's language
    assert english["rows"][1][1] != rows["状态"]
