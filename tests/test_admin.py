"""The Django admin of the layers app: every page loads, maps work offline, access holds."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.contrib.staticfiles import finders
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.fixtures import Settings

from layers.admin import GridMapWidget
from layers.models import (
    Address,
    Area,
    Building,
    Category,
    CategoryKind,
    Component,
    LegalEntity,
    Person,
    Role,
    Staff,
    Tier,
    Unit,
)
from tests.cast import CELLS, centre

URL = re.compile(r"""https?://[^\s"'<>)]+""")


@pytest.fixture
def one_of_each(small_city: dict[str, Area], residents: dict[str, Person]) -> dict[type, object]:
    point = centre(small_city[CELLS["own"]])
    category = Category.objects.create(
        kind=CategoryKind.COMPONENT, major_code="01", minor_code="01", name="上水井盖"
    )
    return {
        Area: small_city[CELLS["own"]],
        Category: category,
        Person: residents["own"],
        LegalEntity: LegalEntity.objects.create(
            credit_code="91440106MA5AAAAA1X", name="天河科技公司", geom=point
        ),
        Component: Component.objects.create(code="4401060101000001", category=category, geom=point),
        Address: Address.objects.create(code="A1", text="天河路1号", geom=point),
        Building: Building.objects.create(code="B1", name="天河大厦", geom=point),
        Unit: Unit.objects.get(name="广州市指挥中心"),
        Staff: Staff.objects.get(user__username="street"),
    }


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def admin_url(model: type, view: str, *args: object) -> str:
    meta = model._meta  # type: ignore[attr-defined]
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


def assert_no_external_urls(html: str) -> None:
    # XML namespace names (the admin's inline SVG) are identifiers, never fetched.
    fetched = [url for url in URL.findall(html) if not url.startswith("http://www.w3.org/")]
    assert fetched == []
    # Protocol-relative addresses (//cdn.example/x.js) are fetched too.
    assert re.search(r"""(?:src|href)=["']//""", html) is None


def test_it_registers_every_model_but_the_pieces() -> None:
    from django.apps import apps

    registered = {model for model in admin.site._registry if model._meta.app_label == "layers"}
    everything = set(apps.get_app_config("layers").get_models())
    assert everything - registered == {apps.get_model("layers", "AreaPiece")}


def test_it_loads_every_changelist_and_change_form(
    cast: dict[str, User], one_of_each: dict[type, object]
) -> None:
    client = client_for(cast["admin"])
    for model, instance in one_of_each.items():
        changelist = client.get(admin_url(model, "changelist"))
        assert changelist.status_code == 200, model
        assert_no_external_urls(changelist.content.decode())
        change = client.get(admin_url(model, "change", instance.pk))  # type: ignore[attr-defined]
        assert change.status_code == 200, model
        html = change.content.decode()
        assert_no_external_urls(html)
        if model not in (Category, Unit, Staff):
            # A map, from the project's own OpenLayers, on a plain background.
            assert "/static/vendor/ol/ol.js" in html, model
            assert "ol.layer.Vector" in html and "ol.source.OSM" not in html, model
    for model in (Person, LegalEntity, Component, Address, Building, Category, Unit, Staff, Area):
        assert client.get(admin_url(model, "add")).status_code == 200, model


def test_it_serves_the_vendored_openlayers(db: None) -> None:
    for path in ("vendor/ol/ol.js", "vendor/ol/ol.css", "vendor/ol/LICENSE.md"):
        assert finders.find(path), path
    media = str(GridMapWidget().media)
    assert "/static/vendor/ol/ol.js" in media
    assert_no_external_urls(media)


def test_it_uses_the_configured_tile_server(
    cast: dict[str, User], residents: dict[str, Person], settings: Settings
) -> None:
    settings.MAP_TILE_URL = "http://tiles.intranet.example/{z}/{x}/{y}.png"
    page = client_for(cast["admin"]).get(admin_url(Person, "change", residents["own"].pk))
    html = page.content.decode()
    assert "ol.source.XYZ" in html
    assert "tiles.intranet.example" in html


def test_it_filters_lists_by_district_and_street(
    cast: dict[str, User], residents: dict[str, Person]
) -> None:
    client = client_for(cast["admin"])
    url = admin_url(Person, "changelist")
    by_district = client.get(url, {"district": "440106"})
    assert by_district.context["cl"].result_count == 3
    by_street = client.get(url, {"street": "440106001"})
    shown = {p.pk for p in by_street.context["cl"].result_list}
    assert shown == {residents["own"].pk, residents["street"].pk}
    # With a district chosen, the street filter offers only that district's streets.
    html = by_district.content.decode()
    assert "440106002" in html and "440104001 " not in html
    areas = client.get(admin_url(Area, "changelist"), {"street": "440106001", "tier": "cell"})
    assert areas.context["cl"].result_count == 8


def test_it_masks_personal_data_in_lists_for_users_who_may_not_see_it(
    cast: dict[str, User], residents: dict[str, Person]
) -> None:
    url = admin_url(Person, "changelist")
    city_page = client_for(cast["city"]).get(url).content.decode()
    assert "440106********0005" in city_page
    assert "440106199001010005" not in city_page
    data_admin_page = client_for(cast["data_admin"]).get(url).content.decode()
    assert "440106199001010005" in data_admin_page
    # The change form too: the city user may only view, and only masked values.
    form = client_for(cast["city"]).get(admin_url(Person, "change", residents["own"].pk))
    assert form.status_code == 200
    html = form.content.decode()
    assert "440106********0005" in html and "440106199001010005" not in html
    assert "13812340000" not in html


def test_it_does_not_let_masked_users_search_personal_fields(
    cast: dict[str, User], residents: dict[str, Person]
) -> None:
    url = admin_url(Person, "changelist")
    found = client_for(cast["city"]).get(url, {"q": "440106199001010005"})
    assert found.context["cl"].result_count == 0
    found = client_for(cast["data_admin"]).get(url, {"q": "440106199001010005"})
    assert found.context["cl"].result_count == 1


def test_it_limits_admin_lists_to_the_users_area(
    cast: dict[str, User], residents: dict[str, Person], small_city: dict[str, Area]
) -> None:
    unit = Unit.objects.create(name="越秀区数据科", tier="district", area=small_city["440104"])
    user = User.objects.create_user("yuexiu_data", is_staff=True)
    Staff.objects.create(user=user, role=Role.DATA_ADMIN, unit=unit)
    user.user_permissions.set(User.objects.get(username="data_admin").user_permissions.all())
    client = client_for(user)
    page = client.get(admin_url(Person, "changelist"))
    assert {p.pk for p in page.context["cl"].result_list} == {residents["other_district"].pk}
    hidden = client.get(admin_url(Person, "change", residents["own"].pk))
    assert hidden.status_code == 302  # the admin's "does not exist" redirect
    assert Person.objects.filter(pk=residents["own"].pk).exists()


def test_it_lists_without_n_plus_one_queries(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    client = client_for(cast["admin"])
    url = admin_url(Person, "changelist")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    Person.objects.create(name="甲", id_number="440106199001010001", geom=Point(113.305, 23.105))
    queries()  # a session's first request reads its user apart (gridmgmt/sessions.py)
    few = queries()
    for n in range(2, 12):
        point = centre(small_city[CELLS["other_district"]] if n % 2 else small_city[CELLS["own"]])
        Person.objects.create(name="乙", id_number=f"4401061990010100{n:02d}", geom=point)
    assert queries() == few


def person_form(person: Person, geom: str) -> dict[str, str]:
    """The admin change form of `person`, moved to `geom`."""
    return {
        "geom": geom,
        "name": person.name,
        "id_number": person.id_number,
        "phone": person.phone,
        "household": "",
        "address": "",
        "person_type": person.person_type,
    }


def test_it_refuses_a_point_outside_the_city_as_a_form_error(
    cast: dict[str, User], residents: dict[str, Person]
) -> None:
    person = residents["own"]
    response = client_for(cast["admin"]).post(
        admin_url(Person, "change", person.pk),
        person_form(person, "SRID=4326;POINT (114.5 23.1)"),
    )
    assert response.status_code == 200
    assert "不在本市任何网格内" in response.content.decode()
    assert Person.objects.get(pk=person.pk).geom.coords == person.geom.coords


def test_it_places_a_moved_record_when_saved(
    cast: dict[str, User], residents: dict[str, Person]
) -> None:
    person = residents["own"]
    response = client_for(cast["data_admin"]).post(
        admin_url(Person, "change", person.pk),
        person_form(person, "SRID=4326;POINT (113.345 23.105)"),
    )
    assert response.status_code == 302
    moved = Person.objects.select_related("cell").get(pk=person.pk)
    assert moved.cell is not None and moved.cell.code == CELLS["other_district"]


def test_it_keeps_area_boundaries_out_of_the_form(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    area = small_city[CELLS["own"]]
    response = client_for(cast["admin"]).post(
        admin_url(Area, "change", area.pk),
        {
            "name": "改名网格",
            "name_en": "",
            "valid_to": "",
            "geom": "SRID=4326;POLYGON ((0 0, 1 0, 1 1, 0 0))",
        },
    )
    assert response.status_code == 302
    saved = Area.objects.get(pk=area.pk)
    assert saved.name == "改名网格"
    assert saved.geom.equals(area.geom)


def test_an_empty_map_opens_over_the_city_in_the_data(small_city: dict[str, Area]) -> None:
    city = Area.objects.current().get(tier=Tier.CITY)
    context = GridMapWidget(attrs={"geom_type": "POINT"}).get_context("geom", None, None)
    assert (context["default_lon"], context["default_lat"]) == pytest.approx(
        (city.geom.centroid.x, city.geom.centroid.y), abs=1e-6
    )
