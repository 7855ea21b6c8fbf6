"""Who may see what in the base layers (house style principle 3).

Every list, detail, export, tile and admin page of the base layers asks this module and
nothing else. The rules, by what the user holds (layers.models.Staff: a role in a unit
whose area is the territory it answers for; inspectors also own grid cells):

Base-layer records (Person, LegalEntity, Component, Address, Building: any `Placed` row)
- A superuser sees everything.
- An anonymous or inactive user, or a user with no Staff post, sees nothing.
- An inspector (网格员) sees the records placed in their own cells (Staff.cells) and
  nothing else: their unit's area does not widen it.
- Every other role (12345 hotline, street, district, city, department, leader, data
  admin) sees the records placed in their unit's area. The tier of that Area picks the
  placement field to filter on: a district unit filters on `district`, a street unit on
  `street` (and `community` / `cell` for units that small). A unit over the whole city
  sees everything, including rows not yet placed: one deployment serves one city, so
  "in the city" needs no filter. This is how the city command centre, leaders, the
  hotline centre and city departments see the whole map.
- A record the user may not see does not exist for them: detail views look it up inside
  visible_records(), so it answers 404, never 403, and ids cannot be probed.

Personal data (Person.name, id_number, phone; nothing else in these layers is personal)
- Unmasked for superusers; for data admins, for the persons placed in their unit's area;
  for inspectors, for the residents of their own cells.
- Masked (layers.masking) for everyone else, the city command centre and leaders
  included: they work with counts and places, not with identities.
- Lists use with_personal_access(), which adds one boolean column to the same query, so
  masking a page of people costs no extra query per row.

Areas (the hierarchy's outlines) and the catalogue of categories are readable by every
active, authenticated user: they are the shared frame of the map, not records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict, TypeVar

from django.contrib.auth.models import AnonymousUser
from django.db.models import BooleanField, Case, Model, Q, QuerySet, Value, When

from audit.context import note_personal_read
from layers.masking import mask_id_number, mask_name, mask_phone
from layers.models import Area, Category, Person, Placed, Role, Staff, Tier

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

    AnyUser = AbstractBaseUser | AnonymousUser

P = TypeVar("P", bound=Placed)
M = TypeVar("M", bound=Model)

# Name of the boolean column with_personal_access() adds to a Person queryset.
PERSONAL_ACCESS = "personal_unmasked"

# A scope is True (every row), False (no row) or a filter on the placement fields.
Scope = Q | bool

# Which placement field holds an area of each tier. A city-tier area needs no filter.
_PLACEMENT_FIELD: dict[str, str] = {
    Tier.DISTRICT: "district_id",
    Tier.STREET: "street_id",
    Tier.COMMUNITY: "community_id",
    Tier.CELL: "cell_id",
}

_STAFF_CACHE = "_layers_access_staff"
_NO_STAFF = object()


class PersonalFields(TypedDict):
    name: str
    id_number: str
    phone: str


def staff_of(user: AnyUser) -> Staff | None:
    """The user's post with its unit and area, the area's geometry deferred (loaded with
    the user by layers.auth, or one query here; then cached on the user)."""
    if not user.is_authenticated or not user.is_active:
        return None
    cached = getattr(user, _STAFF_CACHE, None)
    if cached is None:
        posts = Staff.objects.select_related("unit__area").defer("unit__area__geom")
        cached = keep_post(user, posts.filter(user_id=user.pk).first())
    return cached if isinstance(cached, Staff) else None


def keep_post(user: AnyUser, staff: Staff | None) -> object:
    """Remember `staff` (or that there is none) as the post of `user` for staff_of();
    layers.auth loads it with the user."""
    kept = staff if staff is not None else _NO_STAFF
    setattr(user, _STAFF_CACHE, kept)
    return kept


def post_key(user: AnyUser) -> tuple[object, ...]:
    """Everything of `user` that the scopes here and in incidents.access are built from:
    users with equal keys get equal scopes, so what is built from a scope (a tile's SQL,
    a cached answer) can be kept under this key. Extend it with any new input."""
    staff = staff_of(user)
    facts = (user.pk, user.is_active, is_superuser(user))
    if staff is None:
        return facts
    area = staff.unit.area
    return (*facts, staff.pk, staff.role, staff.unit_id, area.pk, area.tier)


def is_superuser(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_active and getattr(user, "is_superuser", False))


def own_cells(staff: Staff) -> Q:
    # A subquery, not a list of ids: the inspector's cells are read by the same query.
    cells = Staff.cells.through.objects.filter(staff_id=staff.pk).values("area_id")
    return Q(cell_id__in=cells)


def within(area: Area) -> Scope:
    """Rows placed in `area` (True for the city)."""
    field = _PLACEMENT_FIELD.get(area.tier)
    return True if field is None else Q(**{field: area.pk})


def unit_area(staff: Staff) -> Scope:
    return within(staff.unit.area)


def record_scope(user: AnyUser) -> Scope:
    """Which base-layer records `user` may see: True (all), False (none) or a filter."""
    if is_superuser(user):
        return True
    staff = staff_of(user)
    if staff is None:
        return False
    if staff.role == Role.INSPECTOR:
        return own_cells(staff)
    return unit_area(staff)


def personal_data_scope(user: AnyUser) -> Scope:
    """Whose personal data `user` may see unmasked: True (all), False (none) or a filter."""
    if is_superuser(user):
        return True
    staff = staff_of(user)
    if staff is None:
        return False
    if staff.role == Role.INSPECTOR:
        return own_cells(staff)
    if staff.role == Role.DATA_ADMIN:
        return unit_area(staff)
    return False


def apply_scope(queryset: QuerySet[M], scope: Scope) -> QuerySet[M]:
    if scope is True:
        return queryset
    if scope is False:
        return queryset.none()
    return queryset.filter(scope)


def visible_records(user: AnyUser, queryset: QuerySet[P]) -> QuerySet[P]:
    """The rows of `queryset` (any Placed model) that `user` may see."""
    return apply_scope(queryset, record_scope(user))


def can_see_record(user: AnyUser, record: Placed) -> bool:
    """Whether `user` may see this saved record (one query; lists use visible_records)."""
    if record.pk is None:
        return False
    rows = type(record)._default_manager.filter(pk=record.pk)
    return visible_records(user, rows).exists()


def with_personal_access(user: AnyUser, queryset: QuerySet[Person]) -> QuerySet[Person]:
    """`queryset` with a boolean column PERSONAL_ACCESS: may `user` see the row unmasked?

    It does not filter: combine it with visible_records()."""
    scope = personal_data_scope(user)
    flag: Case | Value
    if isinstance(scope, bool):
        flag = Value(scope, output_field=BooleanField())
    else:
        flag = Case(
            When(scope, then=Value(True)), default=Value(False), output_field=BooleanField()
        )
    return queryset.annotate(**{PERSONAL_ACCESS: flag})


def can_see_personal_data(user: AnyUser, person: Person) -> bool:
    """Whether `user` may see this person's name, ID number and phone unmasked.

    Uses the PERSONAL_ACCESS column when the person was loaded through
    with_personal_access(); otherwise asks the database (one query)."""
    annotated = getattr(person, PERSONAL_ACCESS, None)
    if isinstance(annotated, bool):
        return annotated
    scope = personal_data_scope(user)
    if isinstance(scope, bool) or person.pk is None:
        return scope is True
    return Person.objects.filter(scope, pk=person.pk).exists()


def personal_fields(person: Person, *, unmasked: bool) -> PersonalFields:
    """The person's personal fields as they may be shown: full or masked."""
    if unmasked:
        # Every unmasked read is audited: one entry per request (audit/middleware.py).
        note_personal_read("layers.person", person.pk)
        return PersonalFields(name=person.name, id_number=person.id_number, phone=person.phone)
    return PersonalFields(
        name=mask_name(person.name),
        id_number=mask_id_number(person.id_number),
        phone=mask_phone(person.phone),
    )


def visible_areas(user: AnyUser, queryset: QuerySet[Area]) -> QuerySet[Area]:
    """Areas are the shared frame of the map: every active, authenticated user sees all."""
    if user.is_authenticated and user.is_active:
        return queryset
    return queryset.none()


def visible_categories(user: AnyUser, queryset: QuerySet[Category]) -> QuerySet[Category]:
    """The catalogue is readable by every active, authenticated user."""
    if user.is_authenticated and user.is_active:
        return queryset
    return queryset.none()
