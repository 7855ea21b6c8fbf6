"""Evaluation (评价) of the case loop: figures per area, unit and inspector for a period.

Selectors only: each table is one aggregate query per database table (conditional
COUNT/SUM ... FILTER (WHERE ...) grouped by the row key), over the cases the requesting
user may see (incidents.access.visible_cases). docs/evaluation.md has the same rules
with worked examples; change both together.

Period
    [start, end): local dates in Asia/Shanghai (settings.TIME_ZONE), from start 00:00
    to end 00:00; `end` is the first day after the period. At most MAX_PERIOD_DAYS.
    The as-of moment is the earlier of the period's end and now.

Case figures (tables by district, street, community, cell and unit)
    受理数 received        created_at in the period.
    立案数 filed           filed_at in the period.
    超时立案数 filed_late  of those, the ones filed after their 立案时限 (Case.file_due_at, set
                           at intake from dispatch.StageLimit; a case without one is on time).
    按时立案率 filing_rate (filed - filed_late) / filed
    应结案数 due           dispatched (dispatched_at set), not cancelled or merged, and the
                           disposal deadline due_at (extensions included) in the period.
                           Each case is due in exactly one period, the one holding its final
                           deadline, so monthly tables add up to the year's. A case still open
                           after its deadline stays due in that period, not closed, and counts
                           as overdue there; it is not carried into later periods (the live
                           overdue list is the dispatch queue's job). A case whose clock is
                           paused (缓办) with no deadline is due in no period until resumed.
    缓办数 suspended       due cases that were approved for 缓办 (Case.suspended). They leave
                           the denominators and are not counted as closed, on time or overdue.
    结案数 closed          due, not suspended, closed before the end of the period. Closing a
                           case later does not change a finished period's table.
    按期结案数 closed_on_time  closed, and closed by its deadline (Case.closed_on_time:
                           closed_at <= due_at, extensions included, decided at closing).
    超期数 overdue         due, not suspended, deadline before the as-of moment, and not closed
                           on time: closed late, or still open. So, per group,
                           due - suspended = closed_on_time + overdue + cases not yet due.
    返工数 rework          failed verifications (Case.reworks, summed) of the due cases.
    延期数 extensions      approved 延期 (Case.extensions, summed) of the due cases.
    结案率 close_rate      closed / (due - suspended)
    按期结案率 on_time_rate closed_on_time / (due - suspended)
                           Rates are None (empty in exports) when the denominator is 0.
    urgent_*               the same figures and rates over urgent cases only.

    12345 figures (each 答复 of a unit to a caller is one reply; a case reopened after
    a 不满意 call-back has one reply per round). Counted on the history (CaseEvent):
    答复数 replies         "reply" events in the period, of the group's cases.
    回访数 called_back     of those replies, the ones whose call-back (the "callback"
                           event of the same case and round that finished it: reached, or
                           not reached after the term's tries) came before the as-of moment.
    回访接通数 reached     of those, the call-backs that reached the caller.
    满意数 satisfied       of those, the ones the caller rated 满意 or 基本满意.
    重办数 reopened        of those, the ones rated 不满意 (each reopened the case: 重办).
    回访率 callback_rate   called_back / replies
    满意率 satisfaction_rate  satisfied / reached
    重办率 reopen_rate     reopened / replies

    Areas are the case's placement as filed (Case.cell/community/street/district), keyed
    by code: the versions of a redrawn area share its code and make one row. A post
    evaluated by its territory (street, district, city, leader; a superuser: the city)
    gets a row for every current district, street and community of it, with or without
    cases, as a monthly table names every street; cells only where there are cases (a
    city has tens of thousands). Other posts get the areas where their cases are.
    Units are the case's current responsible unit (Case.unit): the unit that holds the
    case or closed it. A case returned as wrongly routed (退回) counts against the unit
    that finally got it; an escalated case against the unit it was escalated to. Cases
    never dispatched have no unit and are not in the unit table. The unit table adds
    派遣次数 assigned: dispatch.Assignment rows to the unit dated in the period (every
    dispatch and escalation, returned ones included): volume, not performance.

Inspector figures (table by inspector: reporters and verifiers)
    上报数 reported        inspector reports (source inspector) by the user created in the
                           period.
    有效上报数 valid       of those, the ones filed (立案, at any time so far).
    注销数 cancelled, 合并数 merged   of those, the ones cancelled or merged as duplicates.
    有效上报率 valid_rate  valid / reported.
    核查数 verifications   verify_pass and verify_fail events by the user in the period.
    按时核查数 verified_on_time  of those, the ones within VERIFICATION_LIMIT (calendar time)
                           of the unit's feedback: the case's latest "handle" event before it.
    按时核查率 verification_rate  verified_on_time / verifications.

Who gets which figures
    Every figure counts only cases of visible_cases(user). On top of that, a department
    (专业部门) is evaluated on the cases now in its unit (and the assignments to it); an
    inspector gets only their own row of the inspector table. A data administrator or a
    user without a post sees no case, hence empty tables.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from dispatch.models import Assignment
from incidents.access import visible_cases
from incidents.models import Case, CaseEvent, Satisfaction, Source, State
from layers.access import is_superuser, staff_of
from layers.models import Area, Role

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

    from layers.access import AnyUser

MAX_PERIOD_DAYS: Final = 366
# Time allowed from the unit's feedback to the inspector's verification on site. Common
# city rules ask for the check within the hour; calendar time, as there is no per-case
# verification deadline in the data. DEFINITIONS and docs/evaluation.md say "1 hour" too.
VERIFICATION_LIMIT: Final = dt.timedelta(hours=1)
VERIFY_ACTIONS: Final = ("verify_pass", "verify_fail")


class By(models.TextChoices):
    DISTRICT = "district", _("区")
    STREET = "street", _("街道")
    COMMUNITY = "community", _("社区")
    CELL = "cell", _("网格")
    UNIT = "unit", _("责任单位")
    INSPECTOR = "inspector", _("网格员")


AREA_GROUPINGS: Final = frozenset({By.DISTRICT, By.STREET, By.COMMUNITY, By.CELL})
# The posts evaluated by their territory: their area tables list all of its areas.
TERRITORIAL_ROLES: Final = frozenset({Role.STREET, Role.DISTRICT, Role.CITY, Role.LEADER})

# The formulas, as shown beside every export (the second sheet of the XLSX).
DEFINITIONS: Final[list[tuple[StrPromise, StrPromise]]] = [
    (_("统计周期"), _("按北京时间的日期，自开始日0时起，至结束日0时止（不含结束日）。")),
    (_("受理数"), _("上报时间在统计周期内的案件数。")),
    (_("立案数"), _("立案时间在统计周期内的案件数。")),
    (
        _("按时立案率"),
        _("(立案数 − 超时立案数) ÷ 立案数；超时立案指立案晚于立案时限（受理时按环节时限计算）。"),
    ),
    (
        _("应结案数"),
        _(
            "已派遣、未注销未合并、处置时限（含延期）在统计周期内的案件数。"
            "超期未结的案件计入其处置时限所在周期，不结转到以后的周期。"
        ),
    ),
    (_("缓办数"), _("应结案件中经批准缓办的案件数，不计入结案率和按期结案率的分母。")),
    (_("结案数"), _("应结案件中（不含缓办）在统计周期结束前结案的案件数。")),
    (_("按期结案数"), _("结案案件中在处置时限（含延期）内结案的案件数。")),
    (
        _("超期数"),
        _("应结案件中（不含缓办）处置时限已过而未按期结案的案件数，含超期结案和超期未结。"),
    ),
    (_("返工数"), _("应结案件核查不通过而返工的次数。")),
    (_("延期数"), _("应结案件经批准延期的次数。")),
    (_("结案率"), _("结案数 ÷ (应结案数 − 缓办数)；分母为0时为空。")),
    (_("按期结案率"), _("按期结案数 ÷ (应结案数 − 缓办数)；分母为0时为空。")),
    (_("紧急案件"), _("以“紧急”开头的各项只统计紧急案件，口径同上。")),
    (_("答复数"), _("统计周期内承办单位向12345来电人答复的次数（重办后再次答复另计）。")),
    (
        _("回访数"),
        _("上述答复中，热线已完成回访（接通，或按规定次数拨打仍未接通）的答复数。"),
    ),
    (_("回访率"), _("回访数 ÷ 答复数；分母为0时为空。")),
    (
        _("满意率"),
        _("(满意数 + 基本满意数) ÷ 回访接通数；分母为0时为空。"),
    ),
    (_("重办率"), _("回访不满意而重办的答复数 ÷ 答复数；分母为0时为空。")),
    (_("区域"), _("按案件立案时所在的区、街道、社区、网格统计。")),
    (
        _("责任单位"),
        _("按案件当前的责任单位统计；派遣次数为统计周期内派遣（含升级）到该单位的次数。"),
    ),
    (_("上报数"), _("网格员在统计周期内上报的案件数；有效上报数为其中已立案的案件数。")),
    (_("有效上报率"), _("有效上报数 ÷ 上报数。")),
    (_("核查数"), _("网格员在统计周期内完成的核查次数（通过与不通过）。")),
    (_("按时核查数"), _("处置单位反馈后1小时内完成的核查次数；按时核查率 = 按时核查数 ÷ 核查数。")),
]


class PeriodError(ValueError):
    """A period that cannot be evaluated; the message says why."""


@dataclass(frozen=True)
class Period:
    """Local dates [start, end): `end` is the first day after the period."""

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise PeriodError(_("结束日期必须晚于开始日期（结束日期不含在统计周期内）。"))
        if (self.end - self.start).days > MAX_PERIOD_DAYS:
            raise PeriodError(_("统计周期不能超过%(days)d天。") % {"days": MAX_PERIOD_DAYS})

    @classmethod
    def month_of(cls, day: dt.date) -> Period:
        first = day.replace(day=1)
        following = (first + dt.timedelta(days=32)).replace(day=1)
        return cls(start=first, end=following)

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def start_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))

    @property
    def end_at(self) -> dt.datetime:
        return dt.datetime.combine(self.end, dt.time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))

    def holds(self, column: str) -> Q:
        """`column` (a datetime) falls in the period."""
        return Q(**{f"{column}__gte": self.start_at, f"{column}__lt": self.end_at})


def _rate(numerator: int, denominator: int) -> float | None:
    return None if denominator <= 0 else round(numerator / denominator, 4)


@dataclass(frozen=True, kw_only=True)
class CaseFigures:
    received: int = 0
    filed: int = 0
    filed_late: int = 0
    due: int = 0
    suspended: int = 0
    closed: int = 0
    closed_on_time: int = 0
    overdue: int = 0
    rework: int = 0
    extensions: int = 0
    urgent_due: int = 0
    urgent_suspended: int = 0
    urgent_closed: int = 0
    urgent_closed_on_time: int = 0
    urgent_overdue: int = 0
    replies: int = 0
    called_back: int = 0
    reached: int = 0
    satisfied: int = 0
    reopened: int = 0

    @property
    def filing_rate(self) -> float | None:
        return _rate(self.filed - self.filed_late, self.filed)

    @property
    def callback_rate(self) -> float | None:
        return _rate(self.called_back, self.replies)

    @property
    def satisfaction_rate(self) -> float | None:
        return _rate(self.satisfied, self.reached)

    @property
    def reopen_rate(self) -> float | None:
        return _rate(self.reopened, self.replies)

    @property
    def close_rate(self) -> float | None:
        return _rate(self.closed, self.due - self.suspended)

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.closed_on_time, self.due - self.suspended)

    @property
    def urgent_close_rate(self) -> float | None:
        return _rate(self.urgent_closed, self.urgent_due - self.urgent_suspended)

    @property
    def urgent_on_time_rate(self) -> float | None:
        return _rate(self.urgent_closed_on_time, self.urgent_due - self.urgent_suspended)


CASE_FIGURES: Final = tuple(f.name for f in fields(CaseFigures))


@dataclass(frozen=True, kw_only=True)
class AreaRow(CaseFigures):
    code: str
    name: str


@dataclass(frozen=True, kw_only=True)
class UnitRow(CaseFigures):
    unit_id: int | None
    name: str
    assigned: int = 0


@dataclass(frozen=True, kw_only=True)
class InspectorRow:
    user_id: int | None
    username: str
    name: str
    reported: int = 0
    valid: int = 0
    cancelled: int = 0
    merged: int = 0
    verifications: int = 0
    verified_on_time: int = 0

    @property
    def valid_rate(self) -> float | None:
        return _rate(self.valid, self.reported)

    @property
    def verification_rate(self) -> float | None:
        return _rate(self.verified_on_time, self.verifications)


REPORT_FIGURES: Final = ("reported", "valid", "cancelled", "merged")
VERIFICATION_FIGURES: Final = ("verifications", "verified_on_time")

Row = AreaRow | UnitRow | InspectorRow


@dataclass(frozen=True)
class Evaluation:
    by: By
    period: Period
    as_of: dt.datetime
    rows: list[Row]
    total: Row


@dataclass(frozen=True)
class Audience:
    """What one user's figures are computed over."""

    visible: QuerySet[Case]
    unit_id: int | None = None  # a department: the cases now in its unit
    user_id: int | None = None  # an inspector: their own row of the inspector table
    # The code prefix of the territory whose every area gets a row ("": the city);
    # None: only the areas where the cases are.
    territory: str | None = None

    @property
    def cases(self) -> QuerySet[Case]:
        if self.unit_id is None:
            return self.visible
        return self.visible.filter(unit_id=self.unit_id)


def audience_of(user: AnyUser) -> Audience:
    visible = visible_cases(user)
    if is_superuser(user):
        return Audience(visible, territory="")
    staff = staff_of(user)
    if staff is None:
        return Audience(visible)
    if staff.role == Role.DEPARTMENT:
        return Audience(visible, unit_id=staff.unit_id)
    if staff.role == Role.INSPECTOR:
        return Audience(visible, user_id=staff.user_id)
    if staff.role in TERRITORIAL_ROLES:
        return Audience(visible, territory=staff.unit.area.inner_prefix)
    return Audience(visible)


def evaluate(user: AnyUser, *, by: By, period: Period, now: dt.datetime) -> Evaluation:
    """The evaluation table of `period` grouped `by`, as `user` may see it."""
    audience = audience_of(user)
    as_of = min(now, period.end_at)
    rows: list[Row]
    if by in AREA_GROUPINGS:
        rows = list(area_rows(audience, tier=by, period=period, as_of=as_of))
        total: Row = AreaRow(code="", name=str(_("合计")), **_sums(rows, CASE_FIGURES))
    elif by == By.UNIT:
        rows = list(unit_rows(audience, period=period, as_of=as_of))
        figures = (*CASE_FIGURES, "assigned")
        total = UnitRow(unit_id=None, name=str(_("合计")), **_sums(rows, figures))
    else:
        rows = list(inspector_rows(audience, period=period))
        figures = (*REPORT_FIGURES, *VERIFICATION_FIGURES)
        total = InspectorRow(user_id=None, username="", name=str(_("合计")), **_sums(rows, figures))
    return Evaluation(by=by, period=period, as_of=as_of, rows=rows, total=total)


def _sums(rows: list[Row], names: tuple[str, ...]) -> dict[str, int]:
    # Per group, not per case: every case is in at most one group of a table.
    return {name: sum(getattr(row, name) for row in rows) for name in names}


# Aggregates are named with a prefix: several figures are also Case columns (suspended,
# overdue, closed_on_time), and an aggregate named like a column would shadow it in the
# FILTER clauses of the others.
FIGURE_PREFIX: Final = "n_"


def case_counts(period: Period, as_of: dt.datetime) -> dict[str, Any]:
    """The aggregates of CaseFigures, as conditional COUNT/SUM expressions, named with
    FIGURE_PREFIX."""
    due = (
        Q(dispatched_at__isnull=False)
        & period.holds("due_at")
        & ~Q(state__in=[State.CANCELLED, State.MERGED])
    )
    counted = due & Q(suspended=False)
    closed = counted & Q(closed_at__lt=period.end_at)
    on_time = closed & Q(closed_on_time=True)
    # closed_on_time is NULL while a case is open: open past its deadline is overdue.
    late = Q(closed_on_time=False) | Q(closed_on_time__isnull=True)
    overdue = counted & Q(due_at__lt=as_of) & late
    urgent = Q(urgent=True)
    counts = {
        "received": Count("pk", filter=period.holds("created_at")),
        "filed": Count("pk", filter=period.holds("filed_at")),
        "filed_late": Count(
            "pk", filter=period.holds("filed_at") & Q(filed_at__gt=F("file_due_at"))
        ),
        "due": Count("pk", filter=due),
        "suspended": Count("pk", filter=due & Q(suspended=True)),
        "closed": Count("pk", filter=closed),
        "closed_on_time": Count("pk", filter=on_time),
        "overdue": Count("pk", filter=overdue),
        "rework": Coalesce(Sum("reworks", filter=due), 0),
        "extensions": Coalesce(Sum("extensions", filter=due), 0),
        "urgent_due": Count("pk", filter=due & urgent),
        "urgent_suspended": Count("pk", filter=due & Q(suspended=True) & urgent),
        "urgent_closed": Count("pk", filter=closed & urgent),
        "urgent_closed_on_time": Count("pk", filter=on_time & urgent),
        "urgent_overdue": Count("pk", filter=overdue & urgent),
    }
    return {f"{FIGURE_PREFIX}{name}": count for name, count in counts.items()}


def _cases_in(audience: Audience, period: Period) -> QuerySet[Case]:
    """The cases that count in some figure of the period (received, filed or due)."""
    relevant = period.holds("created_at") | period.holds("filed_at") | period.holds("due_at")
    return audience.cases.filter(relevant)


def area_rows(audience: Audience, *, tier: By, period: Period, as_of: dt.datetime) -> list[AreaRow]:
    """One row per area of `tier` (district, street, community, cell) with cases, and
    per area of the audience's territory (cells excepted) without: three queries (cases,
    the 12345 replies of the history, the territory's areas)."""
    groups = (
        _cases_in(audience, period)
        .values(key=F(f"{tier}__code"))
        .annotate(area_name=Max(f"{tier}__name"), **case_counts(period, as_of))
    )
    hotline = _hotline_groups(
        audience, f"case__{tier}__code", ("area_name", f"case__{tier}__name"), period, as_of
    )
    names = {group["key"]: group["area_name"] for group in groups}
    names.update((key, group["area_name"]) for key, group in hotline.items() if key not in names)
    by_cases = {group["key"]: group for group in groups}
    rows = {
        key: AreaRow(
            code=key,
            name=name,
            **_case_figures({**by_cases.get(key, {}), **hotline.get(key, {})}),
        )
        for key, name in names.items()
    }
    if audience.territory is not None and tier != By.CELL:
        areas = Area.objects.current().filter(tier=tier, code__startswith=audience.territory)
        for code, name in areas.values_list("code", "name"):
            rows.setdefault(code, AreaRow(code=code, name=name))
    return [rows[code] for code in sorted(rows)]


def unit_rows(audience: Audience, *, period: Period, as_of: dt.datetime) -> list[UnitRow]:
    """One row per current responsible unit: one query on cases, one on assignments, one
    on the 12345 replies of the history."""
    groups = (
        _cases_in(audience, period)
        .filter(unit__isnull=False)
        .values(key=F("unit_id"))
        .annotate(unit_name=Max("unit__name"), **case_counts(period, as_of))
    )
    assignments = Assignment.objects.filter(period.holds("at"), case__in=audience.visible)
    if audience.unit_id is not None:
        assignments = assignments.filter(unit_id=audience.unit_id)
    assigned = {
        group["unit_id"]: group
        for group in assignments.values("unit_id").annotate(
            unit_name=Max("unit__name"), assigned=Count("pk")
        )
    }
    hotline = _hotline_groups(
        audience, "case__unit_id", ("unit_name", "case__unit__name"), period, as_of
    )
    by_cases = {group["key"]: group for group in groups}
    rows = []
    for unit_id in by_cases.keys() | assigned.keys() | hotline.keys():
        cases: Mapping[str, Any] = {**by_cases.get(unit_id, {}), **hotline.get(unit_id, {})}
        dispatches: Mapping[str, Any] = assigned.get(unit_id, {})
        rows.append(
            UnitRow(
                unit_id=unit_id,
                name=cases.get("unit_name") or dispatches["unit_name"],
                assigned=dispatches.get("assigned", 0),
                **_case_figures(cases),
            )
        )
    return sorted(rows, key=lambda row: (row.name, row.unit_id or 0))


def _hotline_groups(
    audience: Audience,
    key: str,
    name: tuple[str, str],
    period: Period,
    as_of: dt.datetime,
) -> dict[Any, dict[str, Any]]:
    """The 12345 figures by `key` (a path from CaseEvent to the group's key): one query
    on the history. Each reply event of the period is matched with the call-back that
    finished its round (the same case and round, dispatch.services.case_callback).
    `name`: the group's label in the row and the path to it."""
    replies = CaseEvent.objects.filter(
        period.holds("at"), action="reply", case__in=audience.cases, **{f"{key}__isnull": False}
    )
    finished = CaseEvent.objects.filter(
        case_id=OuterRef("case_id"),
        action="callback",
        data__done=True,
        data__round=OuterRef("data__round"),
        at__lt=as_of,
    )
    good = [Satisfaction.SATISFIED.value, Satisfaction.BASIC.value]
    groups = (
        replies.annotate(
            was_called=Exists(finished),
            was_reached=Exists(finished.filter(data__reached=True)),
            was_satisfied=Exists(finished.filter(data__satisfaction__in=good)),
            was_reopened=Exists(finished.filter(data__satisfaction=Satisfaction.DISSATISFIED)),
        )
        .values(key=F(key))
        .annotate(
            **{name[0]: Max(name[1])},
            **{
                f"{FIGURE_PREFIX}replies": Count("pk"),
                f"{FIGURE_PREFIX}called_back": Count("pk", filter=Q(was_called=True)),
                f"{FIGURE_PREFIX}reached": Count("pk", filter=Q(was_reached=True)),
                f"{FIGURE_PREFIX}satisfied": Count("pk", filter=Q(was_satisfied=True)),
                f"{FIGURE_PREFIX}reopened": Count("pk", filter=Q(was_reopened=True)),
            },
        )
    )
    return {group["key"]: dict(group) for group in groups}


def inspector_rows(audience: Audience, *, period: Period) -> list[InspectorRow]:
    """One row per reporting or verifying user: one query on cases, one on history."""
    reports = audience.cases.filter(
        period.holds("created_at"), source=Source.INSPECTOR, reporter__isnull=False
    )
    verifications = CaseEvent.objects.filter(
        period.holds("at"), case__in=audience.cases, action__in=VERIFY_ACTIONS, actor__isnull=False
    )
    if audience.user_id is not None:
        reports = reports.filter(reporter_id=audience.user_id)
        verifications = verifications.filter(actor_id=audience.user_id)
    reported = reports.values(key=F("reporter_id")).annotate(
        username=Max("reporter__username"),
        last_name=Max("reporter__last_name"),
        first_name=Max("reporter__first_name"),
        reported=Count("pk"),
        valid=Count("pk", filter=Q(filed_at__isnull=False)),
        cancelled=Count("pk", filter=Q(state=State.CANCELLED)),
        merged=Count("pk", filter=Q(state=State.MERGED)),
    )
    feedback = CaseEvent.objects.filter(
        case_id=OuterRef("case_id"), action="handle", at__lte=OuterRef("at")
    ).order_by("-at", "-pk")
    verified = (
        verifications.annotate(feedback_at=Subquery(feedback.values("at")[:1]))
        .values(key=F("actor_id"))
        .annotate(
            username=Max("actor__username"),
            last_name=Max("actor__last_name"),
            first_name=Max("actor__first_name"),
            verifications=Count("pk"),
            verified_on_time=Count("pk", filter=Q(at__lte=F("feedback_at") + VERIFICATION_LIMIT)),
        )
    )
    by_reports = {group["key"]: group for group in reported}
    by_checks = {group["key"]: group for group in verified}
    rows = []
    for user_id in by_reports.keys() | by_checks.keys():
        person = by_reports.get(user_id) or by_checks[user_id]
        rows.append(
            InspectorRow(
                user_id=user_id,
                username=person["username"],
                # Chinese order: family name first, no space.
                name=f"{person['last_name']}{person['first_name']}".strip(),
                **_pick(by_reports.get(user_id, {}), REPORT_FIGURES),
                **_pick(by_checks.get(user_id, {}), VERIFICATION_FIGURES),
            )
        )
    return sorted(rows, key=lambda row: (row.username, row.user_id or 0))


def _pick(group: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, int]:
    return {name: group[name] for name in names if name in group}


def _case_figures(group: Mapping[str, Any]) -> dict[str, int]:
    named = {f"{FIGURE_PREFIX}{name}": name for name in CASE_FIGURES}
    return {named[key]: value for key, value in group.items() if key in named}
