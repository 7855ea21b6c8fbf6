"""Who sees which base-layer records, and whose personal data unmasked (layers.access).

The cast comes from the create_demo_users command on the small test city: units over the
city, over 天河 (440106) and over its first street (440106001); the inspector owns the
street's first three cells. One resident is placed in each of four cells:

    own cell       440106001001001  天河, street 1, the inspector's cell
    same street    440106001002001  天河, street 1, not the inspector's
    other street   440106002001001  天河, street 2
    other district 440104001001001  越秀
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from layers.access import (
    PERSONAL_ACCESS,
    can_see_personal_data,
    can_see_record,
    personal_fields,
    staff_of,
    visible_areas,
    visible_records,
    with_personal_access,
)
from layers.auth import UserAndPostBackend
from layers.models import Area, Category, CategoryKind, Component, Person, Role, Staff, Unit
from tests.cast import CELLS, centre

EVERYWHERE = set(CELLS)


def seen_by(user: User | AnonymousUser, residents: dict[str, Person]) -> set[str]:
    ids = set(visible_records(user, Person.objects.all()).values_list("pk", flat=True))
    return {key for key, person in residents.items() if person.pk in ids}


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("admin", EVERYWHERE),
        ("city", EVERYWHERE),
        ("leader", EVERYWHERE),
        ("hotline", EVERYWHERE),
        ("department", EVERYWHERE),
        ("data_admin", EVERYWHERE),
        ("district", {"own", "street", "other_street"}),
        ("street", {"own", "street"}),
        ("inspector", {"own"}),
        ("nobody", set()),
    ],
)
def test_it_scopes_records_by_role_and_area(
    cast: dict[str, User], residents: dict[str, Person], username: str, expected: set[str]
) -> None:
    user = cast[username]
    assert seen_by(user, residents) == expected
    for key, person in residents.items():
        assert can_see_record(user, person) is (key in expected)


def test_it_shows_nothing_to_anonymous_or_inactive_users(
    cast: dict[str, User], residents: dict[str, Person]
) -> None:
    assert seen_by(AnonymousUser(), residents) == set()
    city = cast["city"]
    city.is_active = False
    city.save()
    assert seen_by(User.objects.get(pk=city.pk), residents) == set()


def test_it_scopes_every_base_layer_alike(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    category = Category.objects.create(
        kind=CategoryKind.COMPONENT, major_code="01", minor_code="01", name="上水井盖"
    )
    own = Component.objects.create(
        code="4401060101000001", category=category, geom=centre(small_city[CELLS["own"]])
    )
    Component.objects.create(
        code="4401040101000001", category=category, geom=centre(small_city[CELLS["other_district"]])
    )
    street_view = visible_records(cast["street"], Component.objects.all())
    assert list(street_view.values_list("code", flat=True)) == [own.code]
    assert visible_records(cast["city"], Component.objects.all()).count() == 2
    assert visible_records(cast["nobody"], Component.objects.all()).count() == 0


def test_it_scopes_a_unit_of_another_district_to_that_district(
    cast: dict[str, User], residents: dict[str, Person], small_city: dict[str, Area]
) -> None:
    unit = Unit.objects.create(name="越秀区数据科", tier="district", area=small_city["440104"])
    user = User.objects.create_user("yuexiu_data")
    Staff.objects.create(user=user, role=Role.DATA_ADMIN, unit=unit)
    assert seen_by(user, residents) == {"other_district"}
    # Personal data unmasked inside the unit's area only.
    assert can_see_personal_data(user, residents["other_district"])
    assert not can_see_personal_data(user, residents["own"])


def test_it_follows_a_change_of_the_inspectors_cells(
    cast: dict[str, User], residents: dict[str, Person], small_city: dict[str, Area]
) -> None:
    staff = Staff.objects.get(user__username="inspector")
    staff.cells.add(small_city[CELLS["street"]])
    assert seen_by(User.objects.get(username="inspector"), residents) == {"own", "street"}


@pytest.mark.parametrize(
    ("username", "unmasked"),
    [
        ("admin", EVERYWHERE),
        ("data_admin", EVERYWHERE),
        ("inspector", {"own"}),
        ("street", set()),
        ("district", set()),
        ("city", set()),
        ("leader", set()),
        ("hotline", set()),
        ("department", set()),
        ("nobody", set()),
    ],
)
def test_it_decides_who_sees_personal_data_unmasked(
    cast: dict[str, User], residents: dict[str, Person], username: str, unmasked: set[str]
) -> None:
    user = cast[username]
    for key, person in residents.items():
        assert can_see_personal_data(user, person) is (key in unmasked)
    rows = with_personal_access(user, Person.objects.all())
    flags = {person.pk: getattr(person, PERSONAL_ACCESS) for person in rows}
    assert {key for key, person in residents.items() if flags[person.pk]} == unmasked


def test_it_masks_personal_fields_for_display(residents: dict[str, Person]) -> None:
    person = residents["own"]
    assert personal_fields(person, unmasked=False) == {
        "name": "张*",
        "id_number": "440106********0005",
        "phone": "138****0000",
    }
    full = personal_fields(person, unmasked=True)
    assert full["id_number"] == "440106199001010005"
    assert full["phone"] == "13812340000"


def test_it_masks_a_page_of_people_in_one_query(
    cast: dict[str, User], residents: dict[str, Person]
) -> None:
    user = User.objects.get(username="inspector")
    visible_records(user, Person.objects.all()).count()  # the post is looked up once
    with CaptureQueriesContext(connection) as queries:
        rows = list(with_personal_access(user, visible_records(user, Person.objects.all())))
        verdicts = [can_see_personal_data(user, person) for person in rows]
    assert verdicts == [True]
    assert len(queries) == 1


def test_signing_in_loads_the_post_with_the_user(cast: dict[str, User]) -> None:
    backend = UserAndPostBackend()
    with CaptureQueriesContext(connection) as queries:
        street = backend.get_user(cast["street"].pk)
        nobody = backend.get_user(cast["nobody"].pk)
        posts = (staff_of(street), staff_of(nobody))
    assert len(queries) == 2  # one per user, none for the posts
    assert posts[0] == Staff.objects.get(user=cast["street"])
    # Every field as the ORM loads it (the query is written by hand, layers/auth.py).
    for loaded in [street, posts[0], posts[0].unit, posts[0].unit.area]:
        orm = type(loaded)._default_manager.get(pk=loaded.pk)
        assert field_values(loaded) == field_values(orm)
    assert posts[0].unit.area.code == "440106001"
    assert posts[1] is None
    # The area's outline is read only by whoever draws it.
    inside = centre(Area.objects.get(code="440106001001001"))
    with CaptureQueriesContext(connection) as queries:
        assert posts[0].unit.area.geom.covers(inside)
    assert len(queries) == 1
    cast["street"].is_active = False
    cast["street"].save()
    assert backend.get_user(cast["street"].pk) is None


def field_values(instance: Any) -> dict[str, Any]:
    fields = type(instance)._meta.concrete_fields
    return {f.attname: getattr(instance, f.attname) for f in fields if f.name != "geom"}


def test_a_session_ends_when_it_expires_or_is_deleted(cast: dict[str, User]) -> None:
    # Sessions are read with a statement of our own (gridmgmt/sessions.py).
    client = Client()
    client.force_login(cast["street"])
    assert client.get("/map/tiles/urls.json").status_code == 200
    rows = Session.objects.filter(pk=client.session.session_key)
    rows.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert client.get("/map/tiles/urls.json").status_code == 403
    client.force_login(cast["street"])
    assert client.get("/map/tiles/urls.json").status_code == 200
    Session.objects.filter(pk=client.session.session_key).delete()  # signed out elsewhere
    assert client.get("/map/tiles/urls.json").status_code == 403


def test_it_shows_areas_to_every_authenticated_user(cast: dict[str, User]) -> None:
    everything = Area.objects.count()
    assert visible_areas(cast["nobody"], Area.objects.all()).count() == everything
    assert visible_areas(cast["inspector"], Area.objects.all()).count() == everything
    assert visible_areas(AnonymousUser(), Area.objects.all()).count() == 0


def test_it_creates_one_demo_user_per_role(small_city: dict[str, Area]) -> None:
    out = io.StringIO()
    call_command("create_demo_users", stdout=out)
    staff = {s.user.username: s for s in Staff.objects.select_related("user", "unit__area")}
    assert {s.role for s in staff.values()} == set(Role)
    assert staff["street"].unit.area.code == "440106001"
    assert staff["district"].unit.area.code == "440106"
    assert staff["city"].unit.area.code == "440100"
    assert staff["department"].unit.name == "广州市水务局"
    inspector_cells = sorted(staff["inspector"].cells.values_list("code", flat=True))
    assert inspector_cells == ["440106001001001", "440106001001002", "440106001001003"]
    assert staff["inspector"].unit == staff["street"].unit
    admins = set(User.objects.filter(is_staff=True).values_list("username", flat=True))
    assert admins == {"admin", "city", "data_admin"}
    assert User.objects.get(username="admin").is_superuser
    assert User.objects.get(username="data_admin").has_perm("layers.change_person")
    assert not User.objects.get(username="city").has_perm("layers.change_person")
    assert User.objects.get(username="city").has_perm("layers.view_person")
    assert User.objects.get(username="inspector").check_password("gridmgmt-demo")
    units, *table = out.getvalue().splitlines()
    assert units.endswith("territorial units and district departments created")
    assert table[0].split() == ["username", "role", "unit", "area", "password"]
    assert len(table) == 1 + 11
    assert any(line.startswith("street ") and "440106001" in line for line in table)


def test_it_creates_demo_users_idempotently(
    small_city: dict[str, Area], monkeypatch: pytest.MonkeyPatch
) -> None:
    call_command("create_demo_users", stdout=io.StringIO())

    def snapshot() -> tuple[object, ...]:
        return (
            sorted(User.objects.values_list("username", "password", "is_staff", "is_superuser")),
            sorted(Unit.objects.values_list("name", "tier", "area_id")),
            sorted(Staff.objects.values_list("user__username", "role", "unit__name")),
            sorted(Staff.cells.through.objects.values_list("staff_id", "area_id")),
            sorted(User.user_permissions.through.objects.values_list("user_id", "permission_id")),
        )

    before = snapshot()
    out = io.StringIO()
    monkeypatch.setenv("GRIDMGMT_DEMO_PASSWORD", "another-secret")
    call_command("create_demo_users", stdout=out)
    assert snapshot() == before
    assert "another-secret" not in out.getvalue()
    assert out.getvalue().count("(unchanged)") == 11

    call_command("create_demo_users", "--reset-passwords", stdout=io.StringIO())
    assert User.objects.get(username="street").check_password("another-secret")
    assert User.objects.get(username="admin").check_password("another-secret")


def test_it_takes_the_district_and_street_as_options(small_city: dict[str, Area]) -> None:
    call_command(
        "create_demo_users", "--district", "440104", "--street", "440104002", stdout=io.StringIO()
    )
    street = Staff.objects.get(user__username="street")
    assert street.unit.area.code == "440104002"
    assert street.unit.name == "越秀区第2街道办事处"
    cells = Staff.objects.get(user__username="inspector").cells.values_list("code", flat=True)
    assert all(code.startswith("440104002") for code in cells)


def test_it_refuses_a_street_outside_the_district(small_city: dict[str, Area]) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No current street with code 440104001"):
        call_command("create_demo_users", "--street", "440104001", stdout=io.StringIO())
    assert not User.objects.exists()
