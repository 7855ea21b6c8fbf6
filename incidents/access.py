"""Who may see which cases, and whose caller details (house style principle 3).

Every list, detail, export, evaluation and live subscription of cases goes through
visible_cases() / case_scope(). What each may do to a case they see is decided by the
transition table of dispatch.transitions, which asks the relations defined here.

Cases a user may see, by their post (layers.models.Staff):
- superuser: all.
- inspector (网格员): cases placed in their own cells, cases they reported (and the cases
  those were merged into), and cases they are asked to verify.
- department (专业部门): cases assigned to their unit, now or earlier.
- street office, district and city command centres, the 12345 hotline and leaders: cases
  placed in their unit's area (the hotline and leaders are city-wide), plus cases
  assigned to or supervised by their unit wherever they lie.
- data admin, or no post: none.
A case the user may not see does not exist for them: detail and action endpoints look it
up inside visible_cases() and answer 404, so ids cannot be probed.

Live events (incidents.outbox) follow the same rules: live_audience() names the groups a
user's WebSocket joins and the outbox rows a resume replays; they reach exactly the cases
of visible_cases() (tests/test_live_access.py holds the two side by side).

Caller name and phone (12345 tickets) are personal data: unmasked for superusers and the
hotline (they call back, 回访); masked for everyone else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet

from audit.context import note_personal_read
from incidents.models import Case, CaseEvent
from incidents.outbox import Audience
from layers.access import Scope, apply_scope, is_superuser, own_cells, staff_of, unit_area
from layers.masking import mask_name, mask_phone
from layers.models import Role, Staff

if TYPE_CHECKING:
    from layers.access import AnyUser


def assigned(staff: Staff) -> Q:
    """Cases assigned to the staff's unit, now or at any time before."""
    earlier = CaseEvent.objects.filter(unit_id=staff.unit_id).values("case_id")
    return Q(unit_id=staff.unit_id) | Q(supervising_unit_id=staff.unit_id) | Q(pk__in=earlier)


def assigned_ids(unit_id: int) -> QuerySet[Any]:
    """The ids of the cases assigned() to the unit, as one union of three index scans
    (the OR of assigned() makes PostgreSQL read every case of the period)."""
    unit = Case.objects.filter(unit_id=unit_id).order_by().values("pk")
    supervising = Case.objects.filter(supervising_unit_id=unit_id).order_by().values("pk")
    earlier = CaseEvent.objects.filter(unit_id=unit_id).order_by().values("case_id")
    return unit.union(supervising, earlier)


def _inspector(staff: Staff) -> Q:
    cells = own_cells(staff)
    mine = Q(reporter_id=staff.user_id) | Q(verifier_id=staff.user_id)
    followed = Case.objects.filter(reporter_id=staff.user_id, merged_into__isnull=False)
    return cells | mine | Q(pk__in=followed.values("merged_into_id"))


def case_scope(user: AnyUser) -> Scope:
    """Which cases `user` may see: True (all), False (none) or a filter."""
    if is_superuser(user):
        return True
    staff = staff_of(user)
    if staff is None or staff.role == Role.DATA_ADMIN:
        return False
    if staff.role == Role.INSPECTOR:
        return _inspector(staff)
    if staff.role == Role.DEPARTMENT:
        return assigned(staff)
    area = unit_area(staff)
    return area if isinstance(area, bool) else area | assigned(staff)


def visible_cases(user: AnyUser, queryset: QuerySet[Case] | None = None) -> QuerySet[Case]:
    """The cases of `queryset` (default: all) that `user` may see."""
    return apply_scope(Case.objects.all() if queryset is None else queryset, case_scope(user))


def live_audience(user: AnyUser) -> Audience:
    """Whose live events `user` receives, mirroring case_scope(): city-wide → all; an
    area's unit → events placed in its area or about cases of its unit; a department →
    its unit's cases; an inspector → their cells and the cases they follow (reported,
    merged, asked to verify); data admins and users with no post → none."""
    if is_superuser(user):
        return Audience(city=True)
    staff = staff_of(user)
    if staff is None or staff.role == Role.DATA_ADMIN:
        return Audience()
    if staff.role == Role.INSPECTOR:
        cells = Staff.cells.through.objects.filter(staff_id=staff.pk)
        areas = list(cells.order_by("area_id").values_list("area_id", flat=True))
        return Audience(areas=areas, users=[staff.user_id])
    if staff.role == Role.DEPARTMENT:
        return Audience(units=[staff.unit_id])
    if unit_area(staff) is True:  # a unit over the whole city
        return Audience(city=True)
    return Audience(areas=[staff.unit.area_id], units=[staff.unit_id])


def live_groups(user: AnyUser) -> list[str]:
    """The channel-layer groups `user`'s live map joins."""
    return live_audience(user).groups()


def can_see_caller(user: AnyUser) -> bool:
    """Whether `user` may see callers' names and phone numbers unmasked."""
    if is_superuser(user):
        return True
    staff = staff_of(user)
    return staff is not None and staff.role == Role.HOTLINE


def caller_fields(case: Case, *, unmasked: bool) -> dict[str, str]:
    if unmasked:
        # Every unmasked read is audited: one entry per request (audit/middleware.py).
        if case.caller_name or case.caller_phone:
            note_personal_read("incidents.case", case.pk)
        return {"caller_name": case.caller_name, "caller_phone": case.caller_phone}
    return {
        "caller_name": mask_name(case.caller_name) if case.caller_name else "",
        "caller_phone": mask_phone(case.caller_phone) if case.caller_phone else "",
    }
