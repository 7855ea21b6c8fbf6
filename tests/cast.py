"""The named cast of the tests: the demo users on the small test city, and one resident
in each of four cells (see tests/test_access.py for who should see whom)."""

from __future__ import annotations

import io

from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.core.management import call_command

from layers.models import Area, Person, Role
from layers.validators import id_number_check_digit

CELLS = {
    "own": "440106001001001",
    "street": "440106001002001",
    "other_street": "440106002001001",
    "other_district": "440104001001001",
}
EVERYWHERE = set(CELLS)
NAMES = ["张三", "李四", "王五", "欧阳娜娜"]
# The demo user of each post, the highest tier first (create_demo_users).
DEMO_USER = {
    Role.CITY: "city",
    Role.DISTRICT: "district",
    Role.STREET: "street",
    Role.LEADER: "leader",
    Role.DEPARTMENT: "department",
    Role.HOTLINE: "hotline",
    Role.INSPECTOR: "inspector",
    Role.DATA_ADMIN: "data_admin",
}


def opener(roles: frozenset[str]) -> str:
    """A demo user whose post opens a page of map_ui.pages.roles.PAGES."""
    return next(user for role, user in DEMO_USER.items() if role in roles)


def create_cast() -> dict[str, User]:
    call_command("create_demo_users", stdout=io.StringIO())
    return {user.username: user for user in User.objects.all()}


def centre(area: Area) -> Point:
    return Point(area.geom.centroid.x, area.geom.centroid.y, srid=4326)


def with_check_digit(first17: str) -> str:
    return first17 + id_number_check_digit(first17)


def add_residents(city: dict[str, Area]) -> dict[str, Person]:
    people = {}
    for n, (key, code) in enumerate(CELLS.items()):
        people[key] = Person.objects.create(
            name=NAMES[n],
            id_number=with_check_digit(f"44010619900101{n:03d}"),
            phone=f"1381234{n:04d}",
            geom=centre(city[code]),
        )
    return people
