"""Who is told what, from one case event (incidents.models.Outbox).

Each event kind names what awaits someone: a new assignment awaits the unit's staff, a
returned case the command that dispatched it, a verification the inspector asked to
verify... The candidates are then kept only if the event itself reaches them: the groups
of the outbox row (incidents.outbox.groups, the same rule as the live map and
incidents.access.visible_cases) must meet the groups of the person's live audience. So
nobody is ever told about a case they may not see.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User

from incidents.access import live_audience
from incidents.models import Case, CaseEvent, Outbox
from incidents.outbox import groups
from layers.models import Role, Staff, Unit, UnitKind
from notifications.models import Kind, Preference

# Outbox kind → inbox kind, for the events told to the unit that has the case.
TO_UNIT = {
    "case.dispatch": Kind.ASSIGNED,
    "case.redispatch": Kind.ASSIGNED,
    "case.escalate": Kind.ASSIGNED,
    "case.verify_fail": Kind.REWORK,
    "case.approve_extension": Kind.EXTENSION_DECISION,
    "case.reject_extension": Kind.EXTENSION_DECISION,
    "case.warning": Kind.WARNING,
    "case.overdue": Kind.OVERDUE,
    "case.supervise": Kind.SUPERVISE,
}
DISPATCHING = ("dispatch", "redispatch", "escalate")
# The verification deadline (核查时限, dispatch.sla): told to the inspector asked to verify.
VERIFY_DEADLINE = {"case.verify_warning": Kind.WARNING, "case.verify_overdue": Kind.OVERDUE}
# Of a unit's staff, the posts that act on its cases (dispatch.transitions: the command
# side and the assignees); its inspectors, hotline seats and leaders are not told.
ACTING = (Role.STREET, Role.DISTRICT, Role.CITY, Role.DEPARTMENT)


def recipients(event: Outbox, case: Case) -> list[tuple[int, Kind]]:
    """(user id, what they are told) for `event` about `case`, each pair once."""
    kind, unit_ids, user_ids = _candidates(event, case)
    users = set(user_ids)
    if unit_ids:
        staff = Staff.objects.filter(unit_id__in=unit_ids, role__in=ACTING)
        users.update(staff.values_list("user_id", flat=True))
    if kind is None or not users:
        return []
    return [(user.pk, kind) for user in _reached(event, users)]


def _candidates(event: Outbox, case: Case) -> tuple[Kind | None, set[int], set[int]]:
    unit_id: int | None = event.payload["case"].get("unit_id")
    if event.kind in TO_UNIT:
        units = {unit_id} if unit_id else set()
        if event.kind == "case.overdue" and case.supervising_unit_id:
            units.add(case.supervising_unit_id)
        return TO_UNIT[event.kind], units, set()
    if event.kind == "case.co_dispatch" and event.payload.get("part_unit_id"):
        # A co-unit (协办) named at a dispatch: its part awaits it.
        return Kind.ASSIGNED, {event.payload["part_unit_id"]}, set()
    if event.kind in VERIFY_DEADLINE and case.verifier_id:
        return VERIFY_DEADLINE[event.kind], set(), {case.verifier_id}
    if event.kind == "case.return":
        return Kind.RETURNED, _dispatcher(case, event), set()
    if event.kind == "case.request_extension":
        return Kind.EXTENSION_REQUEST, _territorial(case.district_id), set()
    if event.kind == "case.handle" and case.verifier_id:
        return Kind.VERIFY, set(), {case.verifier_id}
    if event.kind == "case.close" and case.reporter_id and _wants_closed(case.reporter_id):
        return Kind.CLOSED, set(), {case.reporter_id}
    return None, set(), set()


def _dispatcher(case: Case, event: Outbox) -> set[int]:
    """The unit that last sent the case out (it dispatches again); the street office of
    the case's street when the history names none (a superuser's repair)."""
    sent = CaseEvent.objects.filter(case=case, action__in=DISPATCHING, actor_unit__isnull=False)
    last = sent.filter(at__lte=event.at).order_by("-at", "-id").values_list("actor_unit_id")
    found = last.first()
    return {found[0]} if found else _territorial(case.street_id)


def _territorial(area_id: int | None) -> set[int]:
    if area_id is None:
        return set()
    units = Unit.objects.filter(area_id=area_id, kind=UnitKind.TERRITORIAL)
    return set(units.values_list("pk", flat=True))


def _wants_closed(user_id: int) -> bool:
    return Preference.objects.filter(user_id=user_id, closed=True).exists()


def _reached(event: Outbox, user_ids: Iterable[int]) -> list[User]:
    """The users among `user_ids` whose live audience the event reaches."""
    sent_to = set(groups(event))
    users = User.objects.filter(pk__in=user_ids, is_active=True).order_by("pk")
    return [u for u in users if sent_to.intersection(live_audience(u).groups())]


def caller_opted_in(case: Case) -> bool:
    """A 12345 caller asked to be told when the case is closed: the ticket's attribute
    `notify_on_close` (Open311 and the provincial exchange carry it) is true."""
    value: Any = (case.attributes or {}).get("notify_on_close")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip().lower() in {"1", "true", "yes", "y", "是"}
