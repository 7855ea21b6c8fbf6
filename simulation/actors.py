"""The people of a simulated city: who reports, files, handles, verifies and calls back.

The demo users (create_demo_users) act where their post is; every other unit gets one
simulated member of staff (`sim-<role>-<unit id>`, no password: nobody signs in as them)
the first time a case needs one, and every street one simulated inspector who owns the
street's cells (`sim-inspector-<street code>`). They are ordinary users with ordinary
posts: the services check them exactly as they check people.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import transaction

from layers.models import Area, Role, Staff, Tier, Unit, UnitKind

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from incidents.models import Case

PREFIX = "sim-"
# The role of a unit's staff who handle its cases, by the unit's tier (territorial units).
TERRITORIAL_ROLE = {Tier.STREET: Role.STREET, Tier.DISTRICT: Role.DISTRICT, Tier.CITY: Role.CITY}


class Cast:
    """Finds (or appoints) the member of staff for each part a case needs; cached."""

    def __init__(self) -> None:
        self._staff: dict[tuple[int, str], User] = {}
        self._territorial: dict[int, Unit] = {}
        self._users: dict[int, User] = {}
        self._hotline: User | None = None

    def reporter(self, cell_id: int, street_id: int) -> User:
        """The inspector who owns the cell: a demo inspector, else the street's."""
        owner = (
            Staff.objects.filter(role=Role.INSPECTOR, cells__id=cell_id, user__is_active=True)
            .order_by("pk")
            .select_related("user")
            .first()
        )
        if owner is not None:
            return owner.user
        return self._street_inspector(street_id)

    def commander(self, case: Case) -> User:
        """The street office of the case's place: it files, dispatches, closes, escalates."""
        return self.staff_of(self.territorial(case.street_id))

    def approver(self, case: Case) -> User:
        """The district's command centre: it approves extensions (延期/缓办)."""
        return self.staff_of(self.territorial(case.district_id))

    def handler(self, case: Case) -> User:
        """A member of the staff of the unit that has the case."""
        assert case.unit is not None, "a case in a unit's hands has its unit"
        return self.staff_of(case.unit)

    def hotline(self) -> User:
        if self._hotline is None:
            staff = Staff.objects.filter(role=Role.HOTLINE).order_by("pk").first()
            if staff is not None:
                self._hotline = staff.user
            else:
                centre = Unit.objects.filter(kind=UnitKind.HOTLINE).order_by("pk").first()
                if centre is None:
                    city = Area.objects.current().filter(tier=Tier.CITY).order_by("code").first()
                    if city is None:
                        raise LookupError("no city area: load the areas first")
                    centre = Unit.objects.create(
                        name=f"{city.name}12345热线中心", tier=Tier.CITY, area=city,
                        kind=UnitKind.HOTLINE,
                    )  # fmt: skip
                self._hotline = self._appoint(centre, Role.HOTLINE)
        return self._hotline

    def user(self, user_id: int) -> User:
        if user_id not in self._users:
            self._users[user_id] = get_user_model().objects.get(pk=user_id)
        return self._users[user_id]

    def territorial(self, area_id: int | None) -> Unit:
        if area_id is None:
            raise LookupError("the case has no place at this tier")
        if area_id not in self._territorial:
            unit = (
                Unit.objects.filter(area_id=area_id, kind=UnitKind.TERRITORIAL)
                .order_by("pk")
                .first()
            )
            if unit is None:
                raise LookupError(f"area {area_id} has no territorial unit: create_demo_users")
            self._territorial[area_id] = unit
        return self._territorial[area_id]

    def staff_of(self, unit: Unit) -> User:
        if unit.kind == UnitKind.TERRITORIAL:
            role = TERRITORIAL_ROLE.get(Tier(unit.tier), Role.STREET)
        elif unit.kind == UnitKind.HOTLINE:
            role = Role.HOTLINE
        else:
            role = Role.DEPARTMENT
        key = (unit.pk, role.value)
        if key not in self._staff:
            staff = (
                Staff.objects.filter(unit=unit, role=role, user__is_active=True)
                .order_by("pk")
                .select_related("user")
                .first()
            )
            self._staff[key] = staff.user if staff else self._appoint(unit, role)
        return self._staff[key]

    def _appoint(self, unit: Unit, role: Role) -> User:
        user, _ = _user(f"{PREFIX}{role}-{unit.pk}")
        Staff.objects.get_or_create(user=user, defaults={"role": role, "unit": unit})
        return user

    def _street_inspector(self, street_id: int) -> User:
        key = (street_id, Role.INSPECTOR.value)
        if key not in self._staff:
            street = Area.objects.defer("geom").get(pk=street_id)
            user, created = _user(f"{PREFIX}inspector-{street.code}")
            if created or not Staff.objects.filter(user=user).exists():
                with transaction.atomic():
                    staff = Staff.objects.create(
                        user=user, role=Role.INSPECTOR, unit=self.territorial(street_id)
                    )
                    cells = Area.objects.current().filter(tier=Tier.CELL, parent__parent=street)
                    staff.cells.add(*cells.values_list("pk", flat=True))
            self._staff[key] = user
        return self._staff[key]


def _user(username: str) -> tuple[User, bool]:
    """A simulated person: an active account with no usable password."""
    users = get_user_model().objects
    found = users.filter(username=username).first()
    if found is not None:
        return found, False
    return users.create_user(username=username), True
