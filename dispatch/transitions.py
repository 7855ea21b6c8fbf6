"""The case workflow as one table: which action moves a case from which states to which,
and who may take it. Anything not in the table is refused with a clear error.

Who may act is a role plus a relation to the case:
- AREA: the case lies in the actor's unit area, or the unit supervises it (督办);
- ASSIGNEE: the case is assigned to the actor's unit (it must fix it);
- VERIFIER: the actor is the inspector asked to verify it;
- CO_UNIT: the actor's unit is a co-unit (协办) of the case with its part open.
dispatch.permissions applies the table (and the rules of the case itself, such as a
pending extension request) for the services and for the pages alike.
A superuser may take any action the state allows (administrators repair data).

    reported ─file→ filed ─dispatch→ dispatched ─sign→ signed ─handle→ handled
       │  └cancel/merge   └cancel        │ ↑  └return→ returned ─dispatch┘   │
       │                                 │ escalate (to the next tier)      verify
       │                        signed ⇄ suspended (approved 缓办, resume)  pass│fail
       │                        signed: request/approve/reject extension     ↓   ↓
       │                                               closed ←close─ verified  rework ─sign→ signed

    dispatched/signed/returned/rework ─redispatch→ dispatched (改派, to another unit)
    dispatched/signed/suspended/rework: supervise (督办, a note and a date; state kept)

Co-units (协办, dispatch.models.CasePart): a dispatch or re-dispatch may name co-units
beside the lead unit (主办, the case's unit). Each signs for its part (co_sign) and
reports its feedback (co_handle) while the case is being worked on, the case's state kept;
the lead's 反馈 alone takes the case to verification, open parts listed.

拆分: the command side splits a filed case into child cases, one per department or
subcategory, each filed and dispatched at once with its own routing and deadline; the
parent waits as 已拆分 (split) and is closed with its last child (services.case_close).

12345 work orders (dispatch.hotline) add: reported ─close_direct→ closed (直接办结, a
consultation answered on the phone); the unit's reply (答复) and the hotline's call-back
(回访) once the unit has the case in hand or later (state kept); a 不满意 call-back
reopens the case (重办): back to its unit, dispatched, with new deadlines.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from incidents.models import State
from layers.models import Role


class Relation(enum.Enum):
    AREA = "area"
    ASSIGNEE = "assignee"
    VERIFIER = "verifier"
    CO_UNIT = "co_unit"


@dataclass(frozen=True)
class Transition:
    action: str
    label: Promise
    sources: frozenset[State]
    # None: the action keeps the state (extension requests and decisions).
    target: State | None
    who: dict[Role, Relation]


# Command side of the tiers: they file, dispatch, approve, close in their area.
COMMAND = {Role.STREET: Relation.AREA, Role.DISTRICT: Relation.AREA, Role.CITY: Relation.AREA}
# Whoever the case is assigned to: a street office, a district unit or a department.
ASSIGNEE = {
    Role.STREET: Relation.ASSIGNEE,
    Role.DISTRICT: Relation.ASSIGNEE,
    Role.CITY: Relation.ASSIGNEE,
    Role.DEPARTMENT: Relation.ASSIGNEE,
}
# Extensions are approved above the street: a street office does not approve its own.
APPROVERS = {Role.DISTRICT: Relation.AREA, Role.CITY: Relation.AREA}
VERIFIER = {Role.INSPECTOR: Relation.VERIFIER}
# A co-unit (协办) of the case: any unit that handles cases.
CO_UNIT = {role: Relation.CO_UNIT for role in ASSIGNEE}

OPEN_BEFORE_DISPATCH = frozenset({State.REPORTED, State.FILED})
WORKING = frozenset({State.DISPATCHED, State.SIGNED, State.RETURNED, State.REWORK})
REDISPATCHABLE = WORKING
# A 12345 ticket can be answered (答复) and called back (回访) once its unit signed for it.
ANSWERABLE = frozenset({State.SIGNED, State.HANDLED, State.VERIFIED, State.CLOSED})
HOTLINE = {Role.HOTLINE: Relation.AREA}
# A unit has the case in hand (it can be pressed, 督办).
WITH_UNIT = frozenset({State.DISPATCHED, State.SIGNED, State.SUSPENDED, State.REWORK})
# A co-unit works on its part from the dispatch until the case is closed.
CO_WORKING = frozenset({*WORKING, State.SUSPENDED, State.HANDLED, State.VERIFIED})

TRANSITIONS: dict[str, Transition] = {
    t.action: t
    for t in [
        Transition("file", _("立案"), frozenset({State.REPORTED}), State.FILED, COMMAND),
        Transition("cancel", _("注销"), OPEN_BEFORE_DISPATCH, State.CANCELLED, COMMAND),
        # 拆分: into child cases for different departments (dispatch.services.case_split).
        Transition("split", _("拆分"), frozenset({State.FILED}), State.SPLIT, COMMAND),
        Transition(
            "merge",
            _("合并"),
            OPEN_BEFORE_DISPATCH,
            State.MERGED,
            {**COMMAND, Role.HOTLINE: Relation.AREA},
        ),
        # From 已派遣 only for a district or city command centre that the case was
        # escalated to (it is the case's unit): it dispatches to a unit below it
        # (dispatch.permissions checks the relation).
        Transition(
            "dispatch",
            _("派遣"),
            frozenset({State.FILED, State.RETURNED, State.DISPATCHED}),
            State.DISPATCHED,
            COMMAND,
        ),
        # 改派: the command side moves a case from its unit to another (wrongly routed,
        # or returned); the clock starts afresh for the new unit.
        Transition("redispatch", _("改派"), REDISPATCHABLE, State.DISPATCHED, COMMAND),
        Transition(
            "sign", _("签收"), frozenset({State.DISPATCHED, State.REWORK}), State.SIGNED, ASSIGNEE
        ),
        Transition(
            "return",
            _("退回"),
            frozenset({State.DISPATCHED, State.SIGNED}),
            State.RETURNED,
            ASSIGNEE,
        ),
        Transition(
            "request_extension", _("申请延期/缓办"), frozenset({State.SIGNED}), None, ASSIGNEE
        ),
        Transition(
            "approve_extension", _("批准延期/缓办"), frozenset({State.SIGNED}), None, APPROVERS
        ),
        Transition(
            "reject_extension", _("驳回延期/缓办"), frozenset({State.SIGNED}), None, APPROVERS
        ),
        Transition(
            "resume",
            _("恢复处置"),
            frozenset({State.SUSPENDED}),
            State.SIGNED,
            {**ASSIGNEE, **APPROVERS},
        ),
        Transition("handle", _("反馈"), frozenset({State.SIGNED}), State.HANDLED, ASSIGNEE),
        Transition(
            "verify_pass", _("核查通过"), frozenset({State.HANDLED}), State.VERIFIED, VERIFIER
        ),
        Transition(
            "verify_fail", _("核查不通过"), frozenset({State.HANDLED}), State.REWORK, VERIFIER
        ),
        Transition("close", _("结案"), frozenset({State.VERIFIED}), State.CLOSED, COMMAND),
        Transition(
            "escalate",
            _("上报上级"),
            frozenset({State.FILED, *WORKING}),
            State.DISPATCHED,
            {Role.STREET: Relation.AREA, Role.DISTRICT: Relation.AREA},
        ),
        # 督办: the command above the street presses the unit, with a note and a date.
        Transition("supervise", _("发起督办"), WITH_UNIT, None, APPROVERS),
        # 12345 tickets (dispatch.permissions checks that the case is one).
        Transition(
            "close_direct", _("直接办结"), frozenset({State.REPORTED}), State.CLOSED, HOTLINE
        ),
        Transition("reply", _("答复"), ANSWERABLE, None, ASSIGNEE),
        # State kept, unless 不满意: then the service reopens the case (重办, dispatched).
        Transition("callback", _("回访"), ANSWERABLE, None, HOTLINE),
        # 协办: a co-unit's own part (dispatch.permissions checks the part's state).
        Transition("co_sign", _("协办签收"), CO_WORKING, None, CO_UNIT),
        Transition("co_handle", _("协办反馈"), CO_WORKING, None, CO_UNIT),
    ]
}
