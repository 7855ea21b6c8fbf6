"""Create the demo city's units and one demo user per role (needs the areas loaded).

    manage.py create_demo_users [--district CODE] [--street CODE] [--reset-passwords]

Units: the territorial owner (属地单位) of every area — the city command centre, a
command centre per district, an office per street — so that every case has an owner to
fall back to; per district, the departments of the usual unit types (城管执法, 环卫部门 …);
over the city, the 12345 hotline centre, the water authority, the city government and
the data authority. Users: two inspectors (each owning three cells of the demo street),
hotline, street, district, city, department (city water authority), enforcement (the
district's 城管执法 department), leader, data_admin, and the superuser admin.
The city and data_admin users may use the admin (is_staff) with the permissions their
work needs. Idempotent: what exists is left alone, passwords included, unless
--reset-passwords sets every demo user's password again. The password comes from the
environment variable GRIDMGMT_DEMO_PASSWORD (default "gridmgmt-demo").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from fixtures.city import CITY_CODE, DEMO_DISTRICT_CODE
from layers.models import Area, Role, Staff, Tier, Unit, UnitKind

if TYPE_CHECKING:
    from django.contrib.auth.models import User

DEFAULT_PASSWORD = "gridmgmt-demo"  # noqa: S105 - a documented demo default, not a secret
PASSWORD_ENV = "GRIDMGMT_DEMO_PASSWORD"  # noqa: S105 - the name of a variable
# The demo city's, when it is loaded; any other city: its first city and district.
DEFAULT_CITY = CITY_CODE
DEFAULT_DISTRICT = DEMO_DISTRICT_CODE
INSPECTOR_CELLS = 3

BASE_LAYERS = ("person", "legalentity", "component", "address", "building")
# What each admin-using role may do there (codenames in the layers app).
ADMIN_PERMISSIONS: dict[str, list[str]] = {
    Role.DATA_ADMIN: [
        *(f"{action}_{model}" for model in BASE_LAYERS for action in ("add", "change", "view")),
        *(f"delete_{model}" for model in BASE_LAYERS),
        "view_area",
        "view_category",
    ],
    Role.CITY: [
        *(f"view_{model}" for model in BASE_LAYERS),
        "view_area",
        "view_unit",
        "view_staff",
        "add_category",
        "change_category",
        "view_category",
    ],
}


# Departments set up in every district, by unit type (Category.default_unit_type).
DISTRICT_DEPARTMENTS = {
    "城管执法": "城市管理和综合执法局",
    "环卫部门": "环境卫生管理中心",
    "住房和城乡建设局": "住房和建设局",
    "交通运输局": "交通运输局",
    "林业和园林局": "林业和园林局",
}


# The English of the demo units' names: their area's English name and this suffix.
ENGLISH_SUFFIXES = {
    "指挥中心": "Command Centre",
    "办事处": "Office",
    "12345热线中心": "12345 Hotline Centre",
    "水务局": "Water Authority",
    "人民政府": "People's Government",
    "政务服务数据管理局": "Government Services and Data Administration",
    "城市管理和综合执法局": "Urban Management and Law Enforcement Bureau",
    "环境卫生管理中心": "Sanitation Centre",
    "住房和建设局": "Housing and Construction Bureau",
    "交通运输局": "Transport Bureau",
    "林业和园林局": "Forestry and Gardens Bureau",
}


@dataclass(frozen=True)
class DemoUnit:
    key: str
    name: str
    area: Area
    kind: UnitKind = UnitKind.TERRITORIAL
    unit_type: str = ""


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role
    unit_key: str


DEMO_USERS = [
    DemoUser("inspector", Role.INSPECTOR, "street"),
    DemoUser("inspector2", Role.INSPECTOR, "street"),
    DemoUser("hotline", Role.HOTLINE, "hotline"),
    DemoUser("street", Role.STREET, "street"),
    DemoUser("district", Role.DISTRICT, "district"),
    DemoUser("city", Role.CITY, "city"),
    DemoUser("department", Role.DEPARTMENT, "water"),
    DemoUser("enforcement", Role.DEPARTMENT, "enforcement"),
    DemoUser("leader", Role.LEADER, "government"),
    DemoUser("data_admin", Role.DATA_ADMIN, "data"),
]


class Command(BaseCommand):
    help = "Create one demo user per role (and the superuser admin) in the demo city."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--city", help=f"City code (default {DEFAULT_CITY}, else the first city)."
        )
        parser.add_argument(
            "--district",
            help=f"District code (default {DEFAULT_DISTRICT}, else the city's first district).",
        )
        parser.add_argument("--street", help="Street code (default: the district's first).")
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help=f"Set every demo user's password again (from {PASSWORD_ENV}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get(PASSWORD_ENV) or DEFAULT_PASSWORD
        city = _pick(Tier.CITY, options["city"], DEFAULT_CITY, parent=None)
        district = _pick(Tier.DISTRICT, options["district"], DEFAULT_DISTRICT, parent=city)
        street = _pick(Tier.STREET, options["street"], None, parent=district)
        units = _demo_units(city, district, street)
        rows: list[tuple[str, str, str, str, str]] = []
        with transaction.atomic():
            created = _territorial_units(city)
            unit_rows = {unit.key: _ensure_unit(unit) for unit in units}
            _english_names()
            for n, demo in enumerate(DEMO_USERS):
                unit = unit_rows[demo.unit_key]
                shown = self._ensure_user(
                    demo, unit, _first_cells(street, n), password, options["reset_passwords"]
                )
                rows.append((demo.username, str(demo.role.label), unit.name, str(unit.area), shown))
            shown = self._ensure_admin(password, options["reset_passwords"])
            rows.append(("admin", "superuser", "-", "-", shown))
        if created:
            self.stdout.write(f"{created} territorial units and district departments created")
        self._print_table(rows)

    def _ensure_user(
        self, demo: DemoUser, unit: Unit, cells: list[Area], password: str, reset: bool
    ) -> str:
        user, created = _get_or_create_user(demo.username, password)
        if created:
            permissions = ADMIN_PERMISSIONS.get(demo.role)
            if permissions:
                user.is_staff = True
                user.save(update_fields=["is_staff"])
                user.user_permissions.add(*_permissions(permissions))
        elif reset:
            user.set_password(password)
            user.save(update_fields=["password"])
        if not Staff.objects.filter(user=user).exists():
            staff = Staff.objects.create(user=user, role=demo.role, unit=unit)
            if demo.role == Role.INSPECTOR:
                staff.cells.add(*cells)
        return password if created or reset else "(unchanged)"

    def _ensure_admin(self, password: str, reset: bool) -> str:
        users = get_user_model().objects
        user = users.filter(username="admin").first()
        if user is None:
            users.create_superuser(username="admin", email="", password=password)
            return password
        if reset:
            user.set_password(password)
            user.save(update_fields=["password"])
            return password
        return "(unchanged)"

    def _print_table(self, rows: list[tuple[str, str, str, str, str]]) -> None:
        header = ("username", "role", "unit", "area", "password")
        table = [header, *rows]
        widths = [max(_width(row[i]) for row in table) for i in range(len(header))]
        for row in table:
            cells = [value + " " * (widths[i] - _width(value)) for i, value in enumerate(row)]
            self.stdout.write("  ".join(cells).rstrip())


def _width(text: str) -> int:
    # CJK characters take two columns in a terminal.
    return sum(2 if ord(char) > 0x2E80 else 1 for char in text)


def _pick(tier: Tier, code: str | None, default: str | None, *, parent: Area | None) -> Area:
    areas = Area.objects.current().filter(tier=tier).defer("geom").order_by("code")
    if parent is not None:
        areas = areas.filter(parent=parent)
    if code:
        found = areas.filter(code=code).first()
        if found is None:
            where = f" in {parent}" if parent else ""
            raise CommandError(f"No current {tier.value} with code {code}{where}.")
        return found
    found = (areas.filter(code=default).first() if default else None) or areas.first()
    if found is None:
        raise CommandError(f"No current {tier.value} found: load the areas first.")
    return found


def _demo_units(city: Area, district: Area, street: Area) -> list[DemoUnit]:
    return [
        DemoUnit("city", f"{city.name}指挥中心", city),
        DemoUnit("hotline", f"{city.name}12345热线中心", city, UnitKind.HOTLINE),
        DemoUnit("water", f"{city.name}水务局", city, UnitKind.DEPARTMENT, "水务部门"),
        DemoUnit("government", f"{city.name}人民政府", city, UnitKind.OTHER),
        DemoUnit("data", f"{city.name}政务服务数据管理局", city, UnitKind.OTHER),
        DemoUnit("district", f"{district.name}指挥中心", district),
        DemoUnit("street", _street_unit_name(street), street),
        DemoUnit(
            "enforcement",
            f"{district.name}{DISTRICT_DEPARTMENTS['城管执法']}",
            district,
            UnitKind.DEPARTMENT,
            "城管执法",
        ),
    ]


def _street_unit_name(street: Area) -> str:
    return f"{street.name}办事处"


def _territorial_units(city: Area) -> int:
    """The owner of every current area below the city, and each district's departments;
    what exists (by name) is left alone. Returns how many were created."""
    areas = Area.objects.current().filter(tier__in=[Tier.DISTRICT, Tier.STREET]).defer("geom")
    wanted: list[Unit] = []
    for area in areas:
        if area.tier == Tier.STREET:
            wanted.append(Unit(name=_street_unit_name(area), tier=area.tier, area=area,
                               kind=UnitKind.TERRITORIAL))  # fmt: skip
            continue
        wanted.append(Unit(name=f"{area.name}指挥中心", tier=area.tier, area=area,
                           kind=UnitKind.TERRITORIAL))  # fmt: skip
        wanted.extend(
            Unit(
                name=f"{area.name}{name}",
                tier=area.tier,
                area=area,
                kind=UnitKind.DEPARTMENT,
                unit_type=unit_type,
            )
            for unit_type, name in DISTRICT_DEPARTMENTS.items()
        )
    wanted.append(
        Unit(name=f"{city.name}指挥中心", tier=city.tier, area=city, kind=UnitKind.TERRITORIAL)
    )
    existing = set(Unit.objects.values_list("name", flat=True))
    missing = [unit for unit in wanted if unit.name not in existing]
    Unit.objects.bulk_create(missing)
    return len(missing)


def _english_names() -> int:
    """Name in English the demo units that have no English name yet, where their area
    has one. Returns how many were named."""
    named = []
    for unit in Unit.objects.filter(name_en="").select_related("area").defer("area__geom"):
        suffix = unit.name.removeprefix(unit.area.name)
        if unit.area.name_en and suffix in ENGLISH_SUFFIXES:
            unit.name_en = f"{unit.area.name_en} {ENGLISH_SUFFIXES[suffix]}"
            named.append(unit)
    Unit.objects.bulk_update(named, ["name_en"])
    return len(named)


def _ensure_unit(demo: DemoUnit) -> Unit:
    # A unit's tier is its area's tier; an existing unit keeps whatever it has.
    units = Unit.objects.select_related("area").defer("area__geom")
    unit, _ = units.get_or_create(
        name=demo.name,
        defaults={
            "tier": demo.area.tier,
            "area": demo.area,
            "kind": demo.kind,
            "unit_type": demo.unit_type,
        },
    )
    return unit


def _get_or_create_user(username: str, password: str) -> tuple[User, bool]:
    users = get_user_model().objects
    user = users.filter(username=username).first()
    if user is not None:
        return user, False
    return users.create_user(username=username, password=password), True


def _permissions(codenames: list[str]) -> list[Permission]:
    found = list(
        Permission.objects.filter(content_type__app_label="layers", codename__in=codenames)
    )
    missing = set(codenames) - {permission.codename for permission in found}
    if missing:
        raise CommandError(f"Missing permissions {sorted(missing)}: run migrate first.")
    return found


def _first_cells(street: Area, inspector: int) -> list[Area]:
    """The street's cells in code order, INSPECTOR_CELLS for each inspector in turn."""
    cells = Area.objects.current().filter(tier=Tier.CELL, code__startswith=street.code)
    start = inspector * INSPECTOR_CELLS
    return list(cells.defer("geom").order_by("code")[start : start + INSPECTOR_CELLS])
