"""What a user may do to a case now (house style 14: check, then act).

`check_action()` answers one action and raises the error a refused request gets;
`allowed_actions()` asks it for every action of the table. The services call the same
`check_action()` under the case's row lock (dispatch.services._begin), so the actions a
page is offered and the actions the server accepts cannot disagree
(tests/test_allowed_actions.py runs the two side by side for every role and state).

What is checked, in order: the case's state (the table's sources), the role and its
relation to the case (dispatch.transitions), then the rules of the case itself: an
extension decision needs a pending request and a new request needs none; the handler
does not verify their own feedback. Whatever depends on the request's input (the unit
chosen, the merge target, the note) is checked by the service.

A Facts object holds what the checks read beyond the case row: the actor's post (loaded
with the user), whether the case lies in the post's area (read from the case's own
placement columns: no query) and the pending extension request (one query, only for a
case in 处置中, the one state that can have one). Built once per call, it answers every
action without another query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from dispatch import hotline
from dispatch.models import CasePart, ExtensionRequest, PartState
from dispatch.transitions import TRANSITIONS, Relation, Transition
from incidents.errors import Conflict, NotPermitted
from incidents.models import Case, State
from layers.access import is_superuser, staff_of, unit_area
from layers.models import Role, Staff

if TYPE_CHECKING:
    from layers.access import AnyUser

# Actions that decide about a pending extension request, and the one that makes one.
DECIDE_EXTENSION = frozenset({"approve_extension", "reject_extension"})
# Actions that take the case away from its unit: a pending request would outlive them.
NO_PENDING = frozenset({"request_extension", "redispatch"})


@dataclass(frozen=True)
class Facts:
    """What the checks of one user on one case read, beyond the case row."""

    superuser: bool
    staff: Staff | None
    in_area: bool
    pending: ExtensionRequest | None
    # A 12345 ticket just received whose type the hotline may close on the phone.
    direct_close: bool = False
    # The case's co-unit parts (协办), when the caller loaded them (a case detail
    # prefetches them); else read once, only when a co-unit action is checked.
    parts: list[CasePart] | None = None
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def part_of(self, case: Case, unit_id: int | None) -> CasePart | None:
        """The co-unit part of `unit_id` in `case` (one query at most per Facts)."""
        if unit_id is None:
            return None
        if "parts" not in self._loaded:
            parts = self.parts
            if parts is None:
                parts = list(CasePart.objects.filter(case_id=case.pk))
            self._loaded["parts"] = parts
        return next((p for p in self._loaded["parts"] if p.unit_id == unit_id), None)


def facts_of(user: AnyUser, case: Case) -> Facts:
    staff = staff_of(user)
    pending = None
    if case.state == State.SIGNED:
        requests = ExtensionRequest.objects.select_related("requested_by")
        pending = requests.filter(case_id=case.pk, approved__isnull=True).first()
    direct_close = False
    if case.state == State.REPORTED and case.ticket_type:
        # One query, only for a new 12345 ticket (the types are data: dispatch.models).
        direct_close = case.ticket_type in hotline.direct_close_types()
    prefetched = getattr(case, "_prefetched_objects_cache", {}).get("parts")
    return Facts(
        superuser=is_superuser(user),
        staff=staff,
        in_area=staff is not None and _in_area(case, staff),
        pending=pending,
        direct_close=direct_close,
        parts=list(prefetched) if prefetched is not None else None,
    )


def _in_area(case: Case, staff: Staff) -> bool:
    """Whether the case lies in the staff's unit area, or the unit supervises it (督办)."""
    if case.supervising_unit_id is not None and case.supervising_unit_id == staff.unit_id:
        return True
    scope = unit_area(staff)
    if isinstance(scope, bool):
        return scope
    # within() filters on one placement column (district_id, street_id, …), which the
    # case row holds: compared here rather than asked of the database.
    ((field, value),) = scope.children  # type: ignore[misc]
    return bool(getattr(case, field) == value)


def check_action(case: Case, action: str, user: AnyUser, facts: Facts) -> Transition:
    """The transition if `user` may take `action` on `case` now, else the error that
    says why not (Conflict: not in this state; NotPermitted: not this user)."""
    transition = TRANSITIONS[action]
    if case.state not in transition.sources:
        allowed = "、".join(str(State(s).label) for s in sorted(transition.sources))
        raise Conflict(
            _("案件 #%(id)s 当前为「%(state)s」，不能%(action)s（仅在%(allowed)s时可以）。")
            % {
                "id": case.pk,
                "state": case.get_state_display(),
                "action": transition.label,
                "allowed": allowed,
            }
        )
    if not facts.superuser:
        _check_actor(case, user, facts, transition)
    _check_case(case, user, facts, transition)
    return transition


def _check_actor(case: Case, user: AnyUser, facts: Facts, transition: Transition) -> None:
    staff = facts.staff
    relation = transition.who.get(Role(staff.role)) if staff else None
    if staff is None or relation is None:
        role = staff.get_role_display() if staff else _("无岗位")
        raise NotPermitted(
            _("%(role)s不能对案件执行「%(action)s」。") % {"role": role, "action": transition.label}
        )
    if not _related(case, staff, facts, relation):
        raise NotPermitted(_(_RELATION_MESSAGES[relation]) % {"action": transition.label})


_RELATION_MESSAGES = {
    Relation.AREA: gettext_noop("案件不在您单位的辖区内，不能%(action)s。"),
    Relation.ASSIGNEE: gettext_noop("案件未派给您的单位，不能%(action)s。"),
    Relation.VERIFIER: gettext_noop("您不是此案件指定的核查人，不能%(action)s。"),
    Relation.CO_UNIT: gettext_noop("您的单位不是此案件的协办单位，不能%(action)s。"),
}


def _related(case: Case, staff: Staff, facts: Facts, relation: Relation) -> bool:
    if relation is Relation.ASSIGNEE:
        return case.unit_id is not None and case.unit_id == staff.unit_id
    if relation is Relation.VERIFIER:
        return case.verifier_id == staff.user_id
    if relation is Relation.CO_UNIT:
        return facts.part_of(case, staff.unit_id) is not None
    return facts.in_area


def _check_case(case: Case, user: AnyUser, facts: Facts, transition: Transition) -> None:
    action = transition.action
    if action in DECIDE_EXTENSION and facts.pending is None:
        raise Conflict(_("案件 #%(id)s 没有待审批的延期/缓办申请。") % {"id": case.pk})
    if action in NO_PENDING and facts.pending is not None:
        message = (
            _("此案件已有一个待审批的延期/缓办申请。")
            if action == "request_extension"
            else _("案件 #%(id)s 有待审批的延期/缓办申请，请先审批。") % {"id": case.pk}
        )
        raise Conflict(message)
    if action in {"verify_pass", "verify_fail"} and case.handled_by_id == user.pk:
        raise NotPermitted(_("处置人不能核查自己处置的案件。"))
    if (
        action == "dispatch"
        and case.state == State.DISPATCHED
        and not _holds_escalation(case, facts)
    ):
        raise Conflict(
            _("案件 #%(id)s 已派遣；只有接到上报的指挥中心可以再派遣，其他情况请使用“改派”。")
            % {"id": case.pk}
        )
    if action in TICKET_ACTIONS:
        _check_ticket(case, facts, action)
    if action in CO_ACTIONS:
        _check_part(case, facts, action)


# A co-unit's actions on its part, and the part state each needs.
CO_ACTIONS = {"co_sign": PartState.DISPATCHED, "co_handle": PartState.SIGNED}


def _check_part(case: Case, facts: Facts, action: str) -> None:
    staff = facts.staff
    part = facts.part_of(case, staff.unit_id if staff else None)
    if part is None:  # a superuser without a post has no part to act on
        raise NotPermitted(_(_RELATION_MESSAGES[Relation.CO_UNIT]) % {"action": _("协办")})
    if part.state != CO_ACTIONS[action]:
        raise Conflict(
            _("案件 #%(id)s 的协办任务当前为「%(state)s」，不能%(action)s。")
            % {
                "id": case.pk,
                "state": part.get_state_display(),
                "action": TRANSITIONS[action].label,
            }
        )


def _holds_escalation(case: Case, facts: Facts) -> bool:
    """The case was escalated (上报上级) to the actor's own command centre, which has it now
    and dispatches it down to a unit below (the table's 派遣 from 已派遣)."""
    staff = facts.staff
    return (
        staff is not None
        and Role(staff.role) in ESCALATED_TO
        and case.unit_id is not None
        and case.unit_id == staff.unit_id
    )


# Actions on 12345 work orders only.
TICKET_ACTIONS = frozenset({"close_direct", "reply", "callback"})


def _check_ticket(case: Case, facts: Facts, action: str) -> None:
    if not hotline.is_ticket(case):
        raise Conflict(_("案件 #%(id)s 不是12345热线工单。") % {"id": case.pk})
    if action == "close_direct" and not facts.direct_close:
        raise Conflict(
            _("「%(type)s」工单不能直接办结，请立案派遣。")
            % {"type": case.get_ticket_type_display()}
        )
    if action == "reply" and case.replied_at is not None:
        raise Conflict(_("案件 #%(id)s 已答复，等待热线回访。") % {"id": case.pk})
    if action == "callback" and case.replied_at is None:
        raise Conflict(_("案件 #%(id)s 尚未答复，不能回访。") % {"id": case.pk})
    if action == "callback" and case.callback_at is not None:
        raise Conflict(_("案件 #%(id)s 已回访。") % {"id": case.pk})


def allowed_actions(user: AnyUser, case: Case, facts: Facts | None = None) -> list[Transition]:
    """The transitions `user` may take on `case` now, in the table's (workflow) order."""
    facts = facts or facts_of(user, case)
    allowed = []
    for action in TRANSITIONS:
        try:
            allowed.append(check_action(case, action, user, facts))
        except (Conflict, NotPermitted):
            continue
    return allowed


# The command side's decisions that `?awaiting=me` lists: a new report to file, a filed
# or returned case to dispatch, a verified case to close, an extension to decide.
DECISIONS = ("file", "dispatch", "close", "approve_extension")
# Command centres that cases are escalated to (上报上级) and that then sign or re-dispatch.
ESCALATED_TO = frozenset({Role.DISTRICT, Role.CITY})


def awaiting_decision(user: AnyUser) -> Q | bool:
    """The cases (a filter over those the user sees) where `user` has a decision to take
    now: where allowed_actions() holds one of DECISIONS, and, for a district or city
    command centre, the cases escalated to its own unit (to sign or to re-dispatch).
    The same table and relations as check_action(), written as one query."""
    superuser = is_superuser(user)
    staff = staff_of(user)
    if not superuser and staff is None:
        return False
    role = Role(staff.role) if staff else None
    area: Q | bool = True
    if not superuser and staff is not None:
        scope = unit_area(staff)
        area = scope if isinstance(scope, bool) else scope | Q(supervising_unit_id=staff.unit_id)
    wanted = Q(pk__in=[])
    for action in DECISIONS:
        transition = TRANSITIONS[action]
        if not superuser and role not in transition.who:
            continue
        sources = transition.sources
        if action == "dispatch":
            # 派遣 from 已派遣 is the escalated-to centre's (added below), not the area's.
            sources = sources - {State.DISPATCHED}
        here = Q(state__in=sorted(sources))
        if action in DECIDE_EXTENSION:
            pending = ExtensionRequest.objects.filter(case_id=OuterRef("pk"), approved__isnull=True)
            here &= Q(Exists(pending))
        wanted |= here
    if area is False:
        wanted = Q(pk__in=[])
    elif area is not True:
        wanted &= area
    if staff is not None and role in ESCALATED_TO:
        wanted |= Q(state=State.DISPATCHED, unit_id=staff.unit_id)
    return wanted
