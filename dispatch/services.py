"""One service function per workflow action (dispatch.transitions holds the table).

Each one: finds the case among those the user may see (else CaseNotFound: 404), locks
its row, checks the state and the user's role and relation to the case (Conflict /
NotPermitted), changes it, and writes the history entry and the live event in the same
transaction (incidents.history.record). Two people acting on one case at once: the
second waits for the first's lock, then finds the state changed and gets a Conflict.
Every action also takes `expected_state`, the state its actor saw: compared under the
lock, it turns two different actions decided on the same state (立案 and 注销 of one new
report, both allowed in turn by the table) into one winner and one Conflict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from dispatch import calendar, deadlines, hotline, reference
from dispatch.models import (
    Assignment,
    CasePart,
    ExtensionKind,
    ExtensionRequest,
    PartState,
    Stage,
    StageLimit,
)
from dispatch.permissions import Facts, check_action, facts_of
from dispatch.routing import NoUnit, Route, escalation_route, places_of, route
from dispatch.transitions import TRANSITIONS, Transition
from gridmgmt import clock
from incidents.access import visible_cases
from incidents.errors import CaseNotFound, Conflict, InvalidInput
from incidents.history import record
from incidents.models import FINAL_STATES, Case, CaseEvent, Satisfaction, State
from incidents.photos import attach, check_photos
from incidents.services import Intake, Report, Ticket, case_report, case_ticket
from layers.models import Category, LimitUnit, Role, Staff, Tier, Unit

if TYPE_CHECKING:
    from django.contrib.auth.models import User


# ---- the frame every action runs in -------------------------------------------------


def _begin(
    user: User, case_id: int, action: str, expected: str | None = None
) -> tuple[Case, Staff | None, Transition]:
    case, facts, transition = _checked(user, case_id, action, expected)
    return case, facts.staff, transition


def _checked(
    user: User, case_id: int, action: str, expected: str | None = None
) -> tuple[Case, Facts, Transition]:
    """The locked case, what the check read and the transition, once every check passed.

    `expected`: the state the actor saw when deciding (the client's `expected_state`).
    It is compared under the row lock, so of two actions decided on the same state (a
    立案 and a 注销 of one new report) exactly one passes: the table alone would let the
    注销 follow the 立案, since a filed case may be cancelled too. The rest is
    dispatch.permissions.check_action, the check that allowed_actions() runs too."""
    if not visible_cases(user).filter(pk=case_id).exists():
        raise CaseNotFound(_("没有编号为 %(id)s 的案件，或您无权查看。") % {"id": case_id})
    case = (
        Case.objects.select_for_update(of=("self",))
        .select_related("category", "unit", "district")
        .get(pk=case_id)
    )
    if expected is not None and case.state != expected:
        raise Conflict(
            _("案件 #%(id)s 已变为「%(state)s」（您看到的是「%(expected)s」），未%(action)s；"
              "请刷新后再操作。")
            % {
                "id": case.pk,
                "state": case.get_state_display(),
                "expected": _state_label(expected),
                "action": TRANSITIONS[action].label,
            },
            field="expected_state",
        )  # fmt: skip
    facts = facts_of(user, case)
    return case, facts, check_action(case, action, user, facts)


def _state_label(state: str) -> str:
    return str(State(state).label) if state in State.values else state


def _finish(
    case: Case,
    user: User | None,
    staff: Staff | None,
    transition: Transition,
    *,
    note: str = "",
    data: dict[str, Any] | None = None,
    photos: Sequence[UploadedFile] = (),
    from_state: str | None = None,
    unit_id: int | None = None,
    save: bool = True,
    fields: Collection[str] | None = None,
) -> CaseEvent:
    """Apply the transition's state and write history and live event. `from_state`: the
    state before, when the caller already changed it (an approved 缓办 suspends);
    `unit_id`: the co-unit whose part the action is about (协办); `save=False`: the next
    transition of the same transaction saves the case; `fields`: the columns changed, for
    an UPDATE of those alone (incidents.history.record)."""
    from_state = from_state or case.state
    if transition.target is not None:
        case.state = transition.target
    checked = check_photos(photos)
    event = record(
        case,
        action=transition.action,
        from_state=from_state,
        actor=user,
        staff=staff,
        note=note,
        data=data,
        unit_id=unit_id,
        save=save,
        fields=fields,
    )
    attach(case, checked, event)
    return event


def _required(text: str, field: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput(_("请填写%(what)s。") % {"what": what}, field=field)
    return text


# ---- filing -------------------------------------------------------------------------


@transaction.atomic
def case_file(
    *, user: User, case_id: int, note: str = "", expected_state: str | None = None
) -> Case:
    case, staff, transition = _begin(user, case_id, "file", expected_state)
    case.filed_at = clock.now()
    _finish(case, user, staff, transition, note=note)
    return case


@transaction.atomic
def case_cancel(
    *, user: User, case_id: int, reason: str, expected_state: str | None = None
) -> Case:
    reason = _required(reason, "reason", _("注销理由"))
    case, staff, transition = _begin(user, case_id, "cancel", expected_state)
    _finish(case, user, staff, transition, note=reason)
    return case


@transaction.atomic
def case_merge(
    *,
    user: User,
    case_id: int,
    into_id: int,
    note: str = "",
    expected_state: str | None = None,
) -> Case:
    """Merge a new report into an open case: its reporter follows that case from now."""
    if into_id == case_id:
        raise InvalidInput(_("不能把案件合并到它自己。"), field="into")
    # The case first: who may not merge it hears that, whatever the target.
    case, staff, transition = _begin(user, case_id, "merge", expected_state)
    target = visible_cases(user).filter(pk=into_id).select_for_update(of=("self",)).first()
    if target is None:
        raise InvalidInput(
            _("没有编号为 %(id)s 的案件，或您无权查看。") % {"id": into_id}, field="into"
        )
    if not target.is_open:
        raise Conflict(
            _("案件 #%(id)s %(state)s，不能再合并进去。")
            % {"id": target.pk, "state": target.get_state_display()}
        )
    case.merged_into = target
    _finish(case, user, staff, transition, note=note, data={"into": target.pk})
    # The target's followers changed: its history says so and its live event goes out.
    record(
        target,
        action="merge_in",
        from_state=target.state,
        actor=user,
        staff=staff,
        note=note,
        data={"merged": case.pk},
    )
    return case


# ---- dispatch and escalation ----------------------------------------------------------


def _assign(case: Case, chosen: Route, user: User | None) -> dict[str, Any]:
    now = clock.now()
    case.unit = chosen.unit
    Assignment.objects.create(
        case=case, unit=chosen.unit, tier=chosen.tier, rule=chosen.rule,
        reason=chosen.reason, at=now, by=user,
    )  # fmt: skip
    return {"unit": chosen.unit.pk, "tier": chosen.tier, "reason": chosen.reason, **chosen.data}


@transaction.atomic
def case_dispatch(
    *,
    user: User,
    case_id: int,
    unit_id: int | None = None,
    note: str = "",
    expected_state: str | None = None,
    co_unit_ids: Sequence[int] = (),
) -> Case:
    """派遣 by the routing rules, or to a unit the dispatcher picks. The clock starts.
    `co_unit_ids`: co-units (协办) beside it, each with its own part."""
    case, staff, transition = _begin(user, case_id, "dispatch", expected_state)
    now = clock.now()
    chosen = _chosen_unit(case, staff, unit_id) if unit_id else _routed(case, now)
    co_units = _co_units(case, staff, co_unit_ids, lead=chosen.unit.pk)
    data = _assign(case, chosen, user)
    if co_units:
        data["co_units"] = [u.pk for u in co_units]
    case.dispatched_at = now
    deadlines.start(case, now)
    _finish(case, user, staff, transition, note=note, data=data)
    _add_parts(case, user, staff, co_units, note)
    return case


def _co_units(case: Case, staff: Staff | None, unit_ids: Sequence[int], *, lead: int) -> list[Unit]:
    """The co-units asked for, checked like a chosen unit (it covers the case's place, not
    above the dispatcher's tier), none the lead unit and none a co-unit already."""
    ids = list(dict.fromkeys(unit_ids))
    if not ids:
        return []
    if lead in ids:
        raise InvalidInput(_("主办单位不能同时是协办单位。"), field="co_units")
    taken = CasePart.objects.filter(case=case, unit_id__in=ids).select_related("unit").first()
    if taken is not None:
        raise InvalidInput(
            _("%(unit)s 已是此案件的协办单位。") % {"unit": taken.unit.name}, field="co_units"
        )
    return [_chosen_unit(case, staff, unit_id, field="co_units").unit for unit_id in ids]


def _add_parts(
    case: Case, user: User, staff: Staff | None, units: Sequence[Unit], note: str
) -> None:
    """One part per co-unit, and its history entry (co_dispatch): the entry names the
    co-unit, which from then on sees the case and is told of it."""
    now = clock.now()
    for unit in units:
        part = CasePart.objects.create(case=case, unit=unit, assigned_at=now, assigned_by=user)
        data = {"part": part.pk, "unit": unit.pk, "lead": case.unit_id}
        record(case, action="co_dispatch", from_state=case.state, actor=user, staff=staff,
               note=note, data=data, unit_id=unit.pk)  # fmt: skip


def case_take_report(
    *, user: User, report: Report, ref: reference.Reference | None = None
) -> Intake:
    """An inspector's report in: intake (placement, history, live event), then 自动立案派遣
    when the rule that routes it says so. `ref`: the request's copy of the reference
    data (dispatch.reference.current()), if it has read it already."""
    taking = _Taking(ref or reference.current())
    return case_report(
        user=user,
        report=report,
        prepare=taking.prepare,
        then=taking.then,
        categories=taking.ref.active_category,
    )


def case_take_ticket(
    *, user: User, ticket: Ticket, ref: reference.Reference | None = None
) -> Intake:
    """A ticket in, whatever brought it (12345 operator, Open311 client): intake (address
    or point, placement, history, live event), then 自动立案派遣 when its rule says so."""
    taking = _Taking(ref or reference.current())
    return case_ticket(
        user=user,
        ticket=ticket,
        prepare=taking.prepare,
        then=taking.then,
        categories=taking.ref.active_category,
    )


class _Taking:
    """Dispatch's part of one intake: the deadlines that run from it, set before the
    case's INSERT (prepare), and 自动立案派遣 right after its history entry, in the
    intake's own savepoint (then). Both read the process's copy of the category, the
    stage limits and the calendar's days (dispatch.reference), whose stamp, read once
    for the intake, is also routing's: no query for any of them when nothing changed."""

    def __init__(self, ref: reference.Reference) -> None:
        self.ref = ref
        self.days: calendar.WorkingCalendar | None = None

    def calendar_at(self, at: dt.datetime) -> calendar.WorkingCalendar:
        if self.days is None:
            self.days = self.ref.calendar_around(at)
        return self.days

    def prepare(self, case: Case) -> None:
        """立案 (every case), and a 12345 work order's reply (dispatch.hotline)."""
        limit = self.ref.stage_limits.get(Stage.FILE.value)
        if limit is not None:
            amount, unit = limit
            working = unit != LimitUnit.CALENDAR_HOURS  # else no calendar needed
            days = self.calendar_at(case.created_at) if working else None
            case.file_due_at = calendar.deadline(case.created_at, amount, unit, calendar=days)
        if hotline.is_ticket(case):
            hotline.start_reply_clock(case, case.created_at)

    def then(self, case: Case) -> None:
        """自动立案派遣: file and dispatch the new report at once when the rule that routes
        it says so; else it waits for a dispatcher. It runs in the savepoint that
        inserted the case (incidents.services.Then): no other transaction sees the case
        yet, so there is no row to lock and no state to check again, and its live events
        are numbered by the intake's one pass after commit."""
        now = clock.now()
        try:
            chosen = route(case, at=now, stamp=self.ref.stamp)
        except NoUnit:
            return
        if chosen.rule is None or not chosen.rule.auto_dispatch:
            return
        note = f"自动立案派遣（规则{chosen.rule.order}）"
        before = _columns(case)
        case.filed_at = now
        # Filed and dispatched at once: the dispatch below saves the case for both.
        _finish(case, None, None, TRANSITIONS["file"], note=note, save=False)
        data = _assign(case, chosen, None)
        case.dispatched_at = now
        deadlines.start(case, now, days=self.calendar_at(now))
        # The columns filing and dispatching changed (and the state the dispatch sets),
        # found by comparing, so that a column the clock starts setting is not missed.
        after = _columns(case)
        changed = {"state", *(name for name, value in after.items() if value != before[name])}
        _finish(case, None, None, TRANSITIONS["dispatch"], note=note, data=data, fields=changed)


def _columns(case: Case) -> dict[str, Any]:
    """The case's column values, by attribute name (the geometry is not copied)."""
    return {f.attname: getattr(case, f.attname) for f in Case._meta.concrete_fields}


def _routed(case: Case, now: Any) -> Route:
    try:
        return route(case, at=now)
    except NoUnit as error:
        raise Conflict(
            _("无法派遣：%(error)s；请先在后台设置属地单位。") % {"error": error}
        ) from None


def _chosen_unit(case: Case, staff: Staff | None, unit_id: int, *, field: str = "unit") -> Route:
    unit = Unit.objects.filter(pk=unit_id).select_related("area").first()
    if unit is None:
        raise InvalidInput(_("单位 %(id)s 不存在。") % {"id": unit_id}, field=field)
    if unit.area_id not in places_of(case):
        raise InvalidInput(
            _("%(unit)s 的辖区不包含案件所在位置，不能派给它。") % {"unit": unit.name},
            field=field,
        )
    if staff is not None and _tier_rank(unit.tier) > _tier_rank(staff.unit.tier):
        raise InvalidInput(
            _("不能直接派给上级单位 %(unit)s；请使用“上报上级”。") % {"unit": unit.name},
            field=field,
        )
    actor = staff.user.get_username() if staff else "admin"
    return Route(unit, unit.tier, None, f"{actor} 指定派遣给 {unit.name}", {"manual": True})


def _tier_rank(tier: str) -> int:
    order = [Tier.CELL, Tier.COMMUNITY, Tier.STREET, Tier.DISTRICT, Tier.CITY]
    return order.index(Tier(tier))


@transaction.atomic
def case_redispatch(
    *,
    user: User,
    case_id: int,
    unit_id: int,
    reason: str,
    expected_state: str | None = None,
    co_unit_ids: Sequence[int] = (),
) -> Case:
    """改派: the command side moves a case in the hands of one unit (or returned by it)
    to another unit of its choice. The clock starts afresh for the new unit, as at a
    dispatch: the unit it leaves is not charged for it. `co_unit_ids`: co-units added
    (协办); the parts the case has keep going."""
    reason = _required(reason, "reason", _("改派理由"))
    case, staff, transition = _begin(user, case_id, "redispatch", expected_state)
    if unit_id == case.unit_id:
        raise InvalidInput(
            _("案件已派给 %(unit)s；请选择另一个单位。")
            % {"unit": case.unit.name if case.unit else ""},
            field="unit",
        )
    chosen = _chosen_unit(case, staff, unit_id)
    co_units = _co_units(case, staff, co_unit_ids, lead=chosen.unit.pk)
    previous = case.unit_id
    data = {**_assign(case, chosen, user), "previous_unit": previous}
    if co_units:
        data["co_units"] = [u.pk for u in co_units]
    now = clock.now()
    case.dispatched_at = now
    case.verifier = None
    deadlines.start(case, now)
    _finish(case, user, staff, transition, note=reason, data=data)
    _add_parts(case, user, staff, co_units, reason)
    return case


@transaction.atomic
def case_supervise(
    *,
    user: User,
    case_id: int,
    note: str,
    due_at: dt.datetime,
    expected_state: str | None = None,
) -> Case:
    """督办: the district or city command presses the unit that has the case, with a note
    and the date it expects the case dealt with by. The state does not change; the
    history keeps it and its live event reaches the unit (it goes to the case's units)."""
    note = _required(note, "note", _("督办意见"))
    if due_at <= clock.now():
        raise InvalidInput(_("督办期限须晚于现在。"), field="due_at")
    case, staff, transition = _begin(user, case_id, "supervise", expected_state)
    data = {"due_at": due_at.isoformat(), "unit": case.unit_id}
    _finish(case, user, staff, transition, note=note, data=data)
    return case


@transaction.atomic
def case_escalate(
    *, user: User, case_id: int, reason: str, expected_state: str | None = None
) -> Case:
    """上报上级: beyond the unit's power, the case goes to the next tier's command."""
    reason = _required(reason, "reason", _("上报理由"))
    case, staff, transition = _begin(user, case_id, "escalate", expected_state)
    lapsed = _lapse_pending(case, user)
    data = _escalate(case, user, reason)
    if lapsed:
        data["extension_lapsed"] = True
    _finish(case, user, staff, transition, note=reason, data=data)
    return case


def _escalate(case: Case, user: User | None, reason: str) -> dict[str, Any]:
    try:
        chosen = escalation_route(case, reason=reason)
    except NoUnit as error:
        raise Conflict(_("无法上报：%(error)s。") % {"error": error}) from None
    data = _assign(case, chosen, user)
    if case.due_at is None:  # filed but never dispatched: the clock starts now
        case.dispatched_at = clock.now()
        deadlines.start(case, case.dispatched_at)
    return data


# ---- the unit at work -----------------------------------------------------------------


@transaction.atomic
def case_sign(
    *, user: User, case_id: int, note: str = "", expected_state: str | None = None
) -> Case:
    case, staff, transition = _begin(user, case_id, "sign", expected_state)
    if case.state == State.REWORK:
        deadlines.resume_timer(case)
    _finish(case, user, staff, transition, note=note)
    return case


@transaction.atomic
def case_return(
    *, user: User, case_id: int, reason: str, expected_state: str | None = None
) -> Case:
    """退回: wrongly routed. It goes back to the dispatcher; the clock stops and starts
    afresh at the next dispatch (the returning unit is not charged for it)."""
    reason = _required(reason, "reason", _("退回理由"))
    case, staff, transition = _begin(user, case_id, "return", expected_state)
    returned_by = case.unit_id
    lapsed = _lapse_pending(case, user)
    case.unit = None
    case.due_at = case.warn_at = None
    deadlines.stop(case)
    data = {"returned_by": returned_by, **({"extension_lapsed": True} if lapsed else {})}
    _finish(case, user, staff, transition, note=reason, data=data)
    return case


@transaction.atomic
def case_request_extension(
    *,
    user: User,
    case_id: int,
    kind: str,
    reason: str,
    hours: int | None = None,
    expected_state: str | None = None,
) -> ExtensionRequest:
    reason = _required(reason, "reason", _("申请理由"))
    if kind not in ExtensionKind.values:
        raise InvalidInput(_("类型应为 extend(延期) 或 suspend(缓办)。"), field="kind")
    if kind == ExtensionKind.EXTEND and not (hours and 0 < hours <= 2000):
        raise InvalidInput(_("延期须填写延长的工作时数(1-2000)。"), field="hours")
    case, staff, transition = _begin(user, case_id, "request_extension", expected_state)
    try:
        with transaction.atomic():
            request = ExtensionRequest.objects.create(
                case=case, kind=kind, hours=hours if kind == ExtensionKind.EXTEND else None,
                reason=reason, requested_by=user, requested_at=clock.now(),
            )  # fmt: skip
    except IntegrityError:
        raise Conflict(_("此案件已有一个待审批的延期/缓办申请。")) from None
    data = {"request": request.pk, "kind": kind, "hours": request.hours}
    _finish(case, user, staff, transition, note=reason, data=data)
    return request


def _lapse_pending(case: Case, user: User) -> bool:
    """The case leaves its unit (退回, 上报): a request it made lapses, closed as not
    approved, so that nobody decides it later for a unit that no longer has the case."""
    if case.state != State.SIGNED:  # only a case in hand can have a pending request
        return False
    pending = ExtensionRequest.objects.filter(case=case, approved__isnull=True)
    return bool(pending.update(approved=False, decided_by=user, decided_at=clock.now()))


@transaction.atomic
def case_decide_extension(
    *,
    user: User,
    case_id: int,
    approve: bool,
    note: str = "",
    expected_state: str | None = None,
) -> Case:
    action = "approve_extension" if approve else "reject_extension"
    case, facts, transition = _checked(user, case_id, action, expected_state)
    staff, request = facts.staff, facts.pending
    assert request is not None  # check_action: a decision needs a pending request
    now = clock.now()
    request.approved, request.decided_by, request.decided_at = approve, user, now
    request.save(update_fields=["approved", "decided_by", "decided_at"])
    if approve and request.kind == ExtensionKind.EXTEND:
        deadlines.extend(case, request.hours or 0)
        case.extensions += 1
    elif approve:
        deadlines.pause(case, now)
        case.state = State.SUSPENDED
        case.suspended = True
    data = {"request": request.pk, "kind": request.kind, "due_at": _iso(case.due_at)}
    _finish(case, user, staff, transition, note=note, data=data, from_state=State.SIGNED)
    return case


@transaction.atomic
def case_resume(
    *, user: User, case_id: int, note: str = "", expected_state: str | None = None
) -> Case:
    case, staff, transition = _begin(user, case_id, "resume", expected_state)
    deadlines.unpause(case, clock.now())
    _finish(case, user, staff, transition, note=note, data={"due_at": _iso(case.due_at)})
    return case


@transaction.atomic
def case_handle(
    *,
    user: User,
    case_id: int,
    note: str,
    photos: Sequence[UploadedFile] = (),
    expected_state: str | None = None,
) -> Case:
    """反馈: the unit reports what it did, with photos; an inspector is asked to verify."""
    note = _required(note, "note", _("处置情况"))
    if not photos:
        raise InvalidInput(_("反馈须附现场处置照片。"), field="photos")
    case, staff, transition = _begin(user, case_id, "handle", expected_state)
    now = clock.now()
    case.handled_at, case.handled_by = now, user
    limit = StageLimit.objects.filter(stage=Stage.VERIFY).first()
    deadlines.start_verification(case, now, (limit.limit, limit.unit) if limit else None)
    case.verifier_id = pick_verifier(case, handler_id=user.pk)
    # The co-units' parts still open when the lead reports: the case goes on without them.
    still_open = CasePart.objects.filter(case=case).exclude(state=PartState.HANDLED)
    data: dict[str, Any] = {"verifier": case.verifier_id, "verify_due_at": _iso(case.verify_due_at)}
    if open_parts := list(still_open.values_list("unit_id", flat=True)):
        data["open_parts"] = open_parts
    _finish(case, user, staff, transition, note=note, photos=photos, data=data)
    return case


def pick_verifier(case: Case, *, handler_id: int | None) -> int | None:
    """The inspector who checks on site: the reporter if an inspector other than the
    handler, else the nearest inspector of the case's community on duty (patrol), else an
    inspector of the case's cell, else the nearest one (by the distance from the case to
    their cells, in metres)."""
    if case.reporter_id and case.reporter_id != handler_id:
        reporter = Staff.objects.filter(user_id=case.reporter_id, role=Role.INSPECTOR).first()
        if reporter is not None and reporter.user.is_active:
            return case.reporter_id
    # 巡查: an inspector of the case's community on duty now, nearest by their last fix.
    from patrol.services import nearest_on_duty  # here: patrol reads the case models

    on_duty = nearest_on_duty(
        community_id=case.community_id, lon=case.geom.x, lat=case.geom.y, exclude=handler_id
    )
    if on_duty is not None:
        return on_duty
    cells = Staff.cells.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT s.user_id
            FROM layers_staff s
            JOIN auth_user u ON u.id = s.user_id AND u.is_active
            JOIN {cells} own ON own.staff_id = s.id
            JOIN layers_area cell ON cell.id = own.area_id
            WHERE s.role = %s AND s.user_id IS DISTINCT FROM %s
            ORDER BY (cell.id = %s) DESC,
                     ST_Distance(cell.geom::geography, ST_GeomFromEWKB(%s)::geography),
                     s.user_id
            LIMIT 1""",
            [Role.INSPECTOR.value, handler_id, case.cell_id, bytes(case.geom.ewkb)],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else None


# ---- splitting (拆分) --------------------------------------------------------------------


@dataclass(frozen=True)
class Child:
    """One child case of a split: its subcategory, and optionally the unit it goes to
    (else the routing rules choose) and its own description (else the parent's)."""

    category_id: int
    unit_id: int | None = None
    description: str = ""


# Copied from the parent to each child: where, who reported, how it came in.
CHILD_FIELDS = (
    "source", "channel", "urgent", "geom", "datum", "accuracy_m", "address_id",
    "address_text", "component_code", "entity_id", "cell_id", "community_id", "street_id",
    "district_id", "reporter_id", "caller_name", "caller_phone", "media_url",
)  # fmt: skip
MAX_CHILDREN = 10


@transaction.atomic
def case_split(
    *,
    user: User,
    case_id: int,
    children: Sequence[Child],
    note: str = "",
    expected_state: str | None = None,
) -> Case:
    """拆分: a filed report that concerns several departments becomes child cases, one per
    subcategory or unit, each filed and dispatched at once (its own routing, its own
    deadline). The parent waits as 已拆分 and closes with its last child; both histories
    name the other."""
    if not 2 <= len(children) <= MAX_CHILDREN:
        raise InvalidInput(
            _("拆分须为 2 至 %(max)s 件子案件。") % {"max": MAX_CHILDREN}, field="children"
        )
    case, staff, transition = _begin(user, case_id, "split", expected_state)
    categories = _child_categories(children)
    now = clock.now()
    made = []
    for child in children:
        made.append(_child(case, categories[child.category_id], child, user, staff, now))
    deadlines.stop(case)
    case.hotline_check_at = None
    ids = [c.pk for c in made]
    _finish(case, user, staff, transition, note=note, data={"children": ids})
    return case


def _child_categories(children: Sequence[Child]) -> dict[int, Category]:
    wanted = {child.category_id for child in children}
    found = {c.pk: c for c in Category.objects.filter(pk__in=wanted, active=True)}
    for category_id in wanted:
        category = found.get(category_id)
        if category is None or category.is_major:
            raise InvalidInput(
                _("分类 %(id)s 不存在或不是小类。") % {"id": category_id}, field="children"
            )
    return found


def _child(
    parent: Case, category: Category, child: Child, user: User, staff: Staff | None, now: Any
) -> Case:
    case = Case(
        **{name: getattr(parent, name) for name in CHILD_FIELDS},
        category=category, description=child.description.strip() or parent.description,
        attributes={}, state=State.FILED, parent=parent, created_at=now, updated_at=now,
        filed_at=now,
    )  # fmt: skip
    case.save()
    record(case, action="split_from", from_state="", actor=user, staff=staff,
           data={"parent": parent.pk})  # fmt: skip
    if child.unit_id:
        chosen = _chosen_unit(case, staff, child.unit_id, field="children")
    else:
        chosen = _routed(case, now)
    data = _assign(case, chosen, user)
    case.dispatched_at = now
    deadlines.start(case, now)
    _finish(case, user, staff, TRANSITIONS["dispatch"], data={**data, "parent": parent.pk})
    return case


def _close_parent(parent_id: int, user: User, staff: Staff | None) -> None:
    """The last child closed: its parent closes too, on time if every child closed was."""
    parent = (
        Case.objects.select_for_update(of=("self",)).select_related("category").get(pk=parent_id)
    )
    if parent.state != State.SPLIT:
        return
    children = list(
        Case.objects.filter(parent=parent).order_by("pk").values("pk", "state", "closed_on_time")
    )
    if any(c["state"] not in FINAL_STATES for c in children):
        return
    parent.state = State.CLOSED
    parent.closed_at = clock.now()
    parent.closed_on_time = all(c["closed_on_time"] is not False for c in children)
    data = {"children": [c["pk"] for c in children], "on_time": parent.closed_on_time}
    record(parent, action="close", from_state=State.SPLIT, actor=user, staff=staff,
           note=_("子案件均已结案"), data=data)  # fmt: skip


# ---- co-units (协办) --------------------------------------------------------------------


@transaction.atomic
def case_co_sign(
    *, user: User, case_id: int, note: str = "", expected_state: str | None = None
) -> Case:
    """协办签收: a co-unit signs for its part; the case's state is the lead's and stays."""
    case, facts, transition = _checked(user, case_id, "co_sign", expected_state)
    part = _own_part(case, facts)
    part.state, part.signed_at = PartState.SIGNED, clock.now()
    part.save(update_fields=["state", "signed_at"])
    _finish(case, user, facts.staff, transition, note=note,
            data={"part": part.pk, "unit": part.unit_id}, unit_id=part.unit_id)  # fmt: skip
    return case


@transaction.atomic
def case_co_handle(
    *,
    user: User,
    case_id: int,
    note: str,
    photos: Sequence[UploadedFile] = (),
    expected_state: str | None = None,
) -> Case:
    """协办反馈: a co-unit reports what it did on its part, with photos. The case goes to
    verification only by the lead's own 反馈."""
    note = _required(note, "note", _("处置情况"))
    if not photos:
        raise InvalidInput(_("反馈须附现场处置照片。"), field="photos")
    case, facts, transition = _checked(user, case_id, "co_handle", expected_state)
    part = _own_part(case, facts)
    data = {"part": part.pk, "unit": part.unit_id}
    event = _finish(case, user, facts.staff, transition, note=note, photos=photos, data=data,
                    unit_id=part.unit_id)  # fmt: skip
    part.state, part.handled_at, part.handled_by = PartState.HANDLED, event.at, user
    part.note, part.feedback = note, event
    part.save(update_fields=["state", "handled_at", "handled_by", "note", "feedback"])
    return case


def _own_part(case: Case, facts: Facts) -> CasePart:
    part = facts.part_of(case, facts.staff.unit_id if facts.staff else None)
    assert part is not None  # check_action: a co-unit action needs the actor's part
    return part


# ---- verification and closing -------------------------------------------------------


@transaction.atomic
def case_verify(
    *,
    user: User,
    case_id: int,
    passed: bool,
    note: str = "",
    photos: Sequence[UploadedFile] = (),
    expected_state: str | None = None,
) -> Case:
    """核查: pass → verified; fail → 返工, back to the unit, counted against it."""
    if not passed:
        note = _required(note, "note", _("核查不通过的原因"))
    case, staff, transition = _begin(
        user, case_id, "verify_pass" if passed else "verify_fail", expected_state
    )
    # 按时核查 (the evaluation's): checked by the verification deadline, if it has one.
    on_time = case.verify_due_at is None or clock.now() <= case.verify_due_at
    deadlines.stop(case)  # the verification timer
    if not passed:
        case.reworks += 1
        deadlines.resume_timer(case)
    data = {"unit": case.unit_id, "on_time": on_time, "verify_due_at": _iso(case.verify_due_at)}
    _finish(case, user, staff, transition, note=note, photos=photos, data=data)
    return case


@transaction.atomic
def case_close(
    *, user: User, case_id: int, note: str = "", expected_state: str | None = None
) -> Case:
    """结案. On time if the (last) feedback came by the deadline."""
    case, staff, transition = _begin(user, case_id, "close", expected_state)
    case.closed_at = clock.now()
    handled = case.handled_at or case.closed_at
    case.closed_on_time = case.due_at is None or handled <= case.due_at
    deadlines.stop(case)
    _finish(case, user, staff, transition, note=note, data={"on_time": case.closed_on_time})
    if case.parent_id is not None:
        _close_parent(case.parent_id, user, staff)
    return case


# ---- 12345 work orders: 直接办结, 答复, 回访 and 重办 (dispatch.hotline) -------------


@transaction.atomic
def case_close_direct(
    *, user: User, case_id: int, reply: str, expected_state: str | None = None
) -> Case:
    """直接办结: a consultation the hotline answered on the phone is closed at once, with
    the answer given as its reply; nothing is dispatched and no call-back is due."""
    reply = _required(reply, "reply", _("答复内容"))
    case, staff, transition = _begin(user, case_id, "close_direct", expected_state)
    now = clock.now()
    case.reply, case.replied_at = reply, now
    case.closed_at, case.closed_on_time = now, True
    case.hotline_check_at = None
    _finish(case, user, staff, transition, note=reply, data={"on_time": True})
    return case


@transaction.atomic
def case_reply(*, user: User, case_id: int, reply: str, expected_state: str | None = None) -> Case:
    """答复: the unit's answer to the caller, which the hotline reads out at the call-back."""
    reply = _required(reply, "reply", _("答复内容"))
    case, staff, transition = _begin(user, case_id, "reply", expected_state)
    now = clock.now()
    on_time = case.reply_due_at is None or now <= case.reply_due_at
    hotline.replied(case, reply, now)
    data = {"on_time": on_time, "unit": case.unit_id, "round": case.reopens,
            "callback_due_at": _iso(case.callback_due_at)}  # fmt: skip
    _finish(case, user, staff, transition, note=reply, data=data)
    return case


@transaction.atomic
def case_callback(
    *,
    user: User,
    case_id: int,
    reached: bool,
    satisfaction: str = "",
    note: str = "",
    expected_state: str | None = None,
) -> Case:
    """回访: the hotline calls the caller back and reads the reply. Reached: the caller's
    satisfaction is recorded, and 不满意 reopens the case (重办). Not reached: one more
    try is counted; after the term's number of tries the call-back is recorded as not
    reached. Every call is a history entry."""
    if reached and satisfaction not in Satisfaction.values:
        raise InvalidInput(_("接通后请选择满意度。"), field="satisfaction")
    if not reached and satisfaction:
        raise InvalidInput(_("未接通时不能填写满意度。"), field="satisfaction")
    case, staff, transition = _begin(user, case_id, "callback", expected_state)
    now = clock.now()
    case.callback_tries += 1
    allowed = hotline.callback_tries_allowed(case)
    done = reached or case.callback_tries >= allowed
    if done:
        case.callback_at, case.callback_reached = now, reached
        case.satisfaction = satisfaction
        case.hotline_check_at = None
    data = {
        "reached": reached, "tries": case.callback_tries, "done": done,
        "satisfaction": satisfaction, "unit": case.unit_id, "round": case.reopens,
        "on_time": case.callback_due_at is None or now <= case.callback_due_at,
    }  # fmt: skip
    _finish(case, user, staff, transition, note=note, data=data)
    if reached and satisfaction == Satisfaction.DISSATISFIED:
        _reopen(case, user, staff, note)
    return case


def _reopen(case: Case, user: User, staff: Staff | None, note: str) -> None:
    """重办: the caller is not satisfied. The case goes back to the unit that replied,
    dispatched anew: a new disposal deadline and a new reply deadline from now; the
    case's 重办 count goes up (the evaluation's 重办率)."""
    from_state = case.state
    now = clock.now()
    case.state = State.DISPATCHED
    case.reopens += 1
    case.closed_at = case.closed_on_time = case.handled_at = None
    case.verifier = None
    case.dispatched_at = now
    deadlines.start(case, now)
    hotline.start_reply_clock(case, now)
    data = {"unit": case.unit_id, "round": case.reopens, "due_at": _iso(case.due_at),
            "reply_due_at": _iso(case.reply_due_at)}  # fmt: skip
    record(case, action="reopen", from_state=from_state, actor=user, staff=staff,
           note=note or _("回访不满意，重办"), data=data)  # fmt: skip


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
