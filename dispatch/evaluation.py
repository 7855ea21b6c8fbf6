"""Evaluation (评价) of the case loop: figures per area, unit and inspector for a period.

Selectors only: each table is one aggregate query per database table (conditional
COUNT/SUM ... FILTER (WHERE ...) grouped by the row key), over the cases the requesting
user may see (incidents.access.visible_cases); the case figures of whole months come
from the monthly rollup (case_groups: for a street or district, of its area, its cases
elsewhere from the cases), and a page of the city's and departments' per-cell table
aggregates only the page's cells, from the month x cell rollup, with its total from the
daily rollup (cell_page). docs/evaluation.md has the same rules with worked examples;
change both together.

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
    督办数 supervised      "supervise" events made by hand (a leader or command centre, not
                           the SLA worker's) in the period, of the group's cases; counted in
                           the same pass over the history as the replies.

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
    按时核查数 verified_on_time  of those, the ones made by the case's verification deadline
                           (核查时限: StageLimit 核查 from the unit's feedback, on the working
                           calendar; the event's data "on_time"); events from before that
                           deadline existed: within VERIFICATION_LIMIT of the feedback.
    按时核查率 verification_rate  verified_on_time / verifications.

Who gets which figures
    Every figure counts only cases of visible_cases(user). On top of that, a department
    (专业部门) is evaluated on the cases now in its unit (and the assignments to it); an
    inspector gets only their own row of the inspector table. A data administrator or a
    user without a post sees no case, hence empty tables.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from functools import reduce
from typing import TYPE_CHECKING, Any, Final, Protocol
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.postgres.aggregates import BoolOr
from django.db import connection, models
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from dispatch.models import (
    Assignment,
    EvaluationCell,
    EvaluationCellDay,
    EvaluationCellMonth,
    EvaluationDay,
    EvaluationDayTotal,
    EvaluationMonth,
    RollupKind,
)
from incidents.access import assigned_ids, visible_cases
from incidents.models import Case, CaseEvent, Satisfaction, Source, State
from layers.access import is_superuser, staff_of, unit_area
from layers.models import Area, Role, Tier, Unit

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

    from layers.access import AnyUser

MAX_PERIOD_DAYS: Final = 366
# Time allowed from the unit's feedback to the inspector's verification on site, for the
# verifications recorded before the per-case deadline (Case.verify_due_at) existed.
VERIFICATION_LIMIT: Final = dt.timedelta(hours=1)
VERIFY_ACTIONS: Final = ("verify_pass", "verify_fail")
# 按时核查: by the case's verification deadline (核查时限, dispatch.models.StageLimit on the
# working calendar), as the verify event recorded it (data "on_time"); events written
# before that deadline existed fall back to VERIFICATION_LIMIT after the feedback.
ON_TIME_VERIFICATION: Final = Q(data__on_time=True) | (
    ~Q(data__has_key="on_time") & Q(at__lte=F("feedback_at") + VERIFICATION_LIMIT)
)


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
    (_("督办数"), _("统计周期内领导或指挥中心对本组案件人工发起督办的次数（不含超期自动督办）。")),
    (_("区域"), _("按案件立案时所在的区、街道、社区、网格统计。")),
    (
        _("责任单位"),
        _("按案件当前的责任单位统计；派遣次数为统计周期内派遣（含升级）到该单位的次数。"),
    ),
    (_("上报数"), _("网格员在统计周期内上报的案件数；有效上报数为其中已立案的案件数。")),
    (_("有效上报率"), _("有效上报数 ÷ 上报数。")),
    (_("核查数"), _("网格员在统计周期内完成的核查次数（通过与不通过）。")),
    (
        _("按时核查数"),
        _(
            "在核查时限（处置单位反馈后按环节时限、工作日历计算）内完成的核查次数；"
            "按时核查率 = 按时核查数 ÷ 核查数。"
        ),
    ),
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


class Window(Protocol):
    """What the case aggregates read of a period: which moments of a column it holds and
    its end (closings after the end do not count)."""

    @property
    def end_at(self) -> dt.datetime: ...

    def holds(self, column: str) -> Q: ...


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


@dataclass(frozen=True)
class Months:
    """Local months [start, end) read from the monthly rollup for a period."""

    start: dt.date
    end: dt.date


def rollup_months(period: Period, as_of: dt.datetime) -> Months | None:
    """The months of `period` read from the monthly rollup, or None: the whole months that
    ended by `as_of` (their deadlines have all passed, so 超期数 does not depend on the
    moment), and the first, partial month too when it ended by then and the period holds
    more of its days than not (its days before the period are then taken away)."""
    first = period.start.replace(day=1)
    if period.start.day != 1 and (period.start - first) >= (_next_month(first) - period.start):
        first = _next_month(first)
    last = period.end.replace(day=1)
    while last > first and _local_midnight(last) > as_of:
        last = (last - dt.timedelta(days=1)).replace(day=1)
    return Months(first, last) if first < last else None


@dataclass(frozen=True)
class Span:
    """The moments [start, end) of a column, with the period's end (closings after it do
    not count)."""

    start: dt.date
    end: dt.date
    end_at: dt.datetime

    def holds(self, column: str) -> Q:
        return Q(**{f"{column}__gte": _local_midnight(self.start)}) & Q(
            **{f"{column}__lt": _local_midnight(self.end)}
        )


@dataclass(frozen=True)
class Edges:
    """The days of `period` outside `months`, with the period's end."""

    period: Period
    months: Months

    @property
    def end_at(self) -> dt.datetime:
        return self.period.end_at

    @property
    def days(self) -> list[Span]:
        spans = [
            Span(self.period.start, self.months.start, self.end_at),
            Span(self.months.end, self.period.end, self.end_at),
        ]
        return [span for span in spans if span.start < span.end]

    def holds(self, column: str) -> Q:
        return reduce(operator.or_, (span.holds(column) for span in self.days))


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
    supervised: int = 0

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
    rows: list[Row]  # all rows, or the page asked for
    total: Row  # the sums of all rows
    count: int  # the rows of all pages


@dataclass(frozen=True)
class Audience:
    """What one user's figures are computed over."""

    visible: QuerySet[Case]
    unit_id: int | None = None  # a department: the cases now in its unit
    user_id: int | None = None  # an inspector: their own row of the inspector table
    # The code prefix of the territory whose every area gets a row ("": the city);
    # None: only the areas where the cases are.
    territory: str | None = None
    # The counted cases as a filter on the columns Case and EvaluationMonth share (the
    # monthly rollup can count them); None: count them from the cases only.
    placed: Q | None = None
    # With `placed`, the counted cases outside it (a street's or district's cases assigned
    # to or supervised by its unit elsewhere), counted from the cases.
    elsewhere: QuerySet[Case] | None = None
    # `placed` names the cells of a page of the per-cell table (cell_page): their whole
    # months come from the month x cell rollup (EvaluationCellMonth: cell and unit only).
    page_cells: bool = False

    @property
    def cases(self) -> QuerySet[Case]:
        if self.unit_id is None:
            return self.visible
        return self.visible.filter(unit_id=self.unit_id)


def audience_of(user: AnyUser) -> Audience:
    visible = visible_cases(user)
    if is_superuser(user):
        return Audience(visible, territory="", placed=Q())
    staff = staff_of(user)
    if staff is None or staff.role == Role.DATA_ADMIN:
        return Audience(visible)
    if staff.role == Role.DEPARTMENT:
        # visible: assigned to the unit now or before; counted: now in it.
        return Audience(visible, unit_id=staff.unit_id, placed=Q(unit_id=staff.unit_id))
    if staff.role == Role.INSPECTOR:
        return Audience(visible, user_id=staff.user_id)
    territory = staff.unit.area.inner_prefix if staff.role in TERRITORIAL_ROLES else None
    # A post over the whole city sees every case. A street or district sees the cases
    # of its area (the rollup's) and those assigned to or supervised by its unit
    # elsewhere (incidents.access.case_scope), found by index scans (assigned_ids).
    area = unit_area(staff)
    if area is True:
        return Audience(visible, territory=territory, placed=Q())
    column = f"{staff.unit.area.tier}_id"
    if column not in ROLLUP_KEYS:
        return Audience(visible, territory=territory)
    placed = Q(**{column: staff.unit.area_id})
    elsewhere = Case.objects.filter(pk__in=assigned_ids(staff.unit_id)).exclude(placed)
    return Audience(visible, territory=territory, placed=placed, elsewhere=elsewhere)


def evaluate(
    user: AnyUser, *, by: By, period: Period, now: dt.datetime, page: slice | None = None
) -> Evaluation:
    """The evaluation table of `period` grouped `by`, as `user` may see it: every row,
    or the rows of `page` (a slice of the rows in their order; `count` says how many
    rows all pages hold)."""
    audience = audience_of(user)
    as_of = min(now, period.end_at)
    rows: list[Row]
    whole = audience.placed is not None and audience.elsewhere is None
    if by == By.CELL and page is not None and whole:
        # Thousands of cells: only the page's cells are aggregated (cell_page), and the
        # total comes from the rollup. (An area's cells are fewer: one aggregate by cell
        # over its cases measured cheaper than finding the page's cells first.)
        cells, count, sums = cell_page(audience, period=period, as_of=as_of, page=page)
        total: Row = AreaRow(code="", name=str(_("合计")), **sums)
        rows = list(cells)
        return Evaluation(by=by, period=period, as_of=as_of, rows=rows, total=total, count=count)
    if by in AREA_GROUPINGS:
        rows = list(area_rows(audience, tier=by, period=period, as_of=as_of))
        total = AreaRow(code="", name=str(_("合计")), **_sums(rows, CASE_FIGURES))
    elif by == By.UNIT:
        rows = list(unit_rows(audience, period=period, as_of=as_of))
        figures = (*CASE_FIGURES, "assigned")
        total = UnitRow(unit_id=None, name=str(_("合计")), **_sums(rows, figures))
    else:
        rows = list(inspector_rows(audience, period=period))
        figures = (*REPORT_FIGURES, *VERIFICATION_FIGURES)
        total = InspectorRow(user_id=None, username="", name=str(_("合计")), **_sums(rows, figures))
    count = len(rows)
    rows = rows if page is None else rows[page]
    return Evaluation(by=by, period=period, as_of=as_of, rows=rows, total=total, count=count)


def _sums(rows: list[Row], names: tuple[str, ...]) -> dict[str, int]:
    # Per group, not per case: every case is in at most one group of a table.
    return {name: sum(getattr(row, name) for row in rows) for name in names}


# Aggregates are named with a prefix: several figures are also Case columns (suspended,
# overdue, closed_on_time), and an aggregate named like a column would shadow it in the
# FILTER clauses of the others.
FIGURE_PREFIX: Final = "n_"


# A report split for several departments (拆分) was received and filed once, as the
# parent; its children count only in the disposal figures of their units.
REPORT: Final = Q(parent__isnull=True)


def _due(period: Window) -> Q:
    """The cases due in the period (应结案数)."""
    return (
        Q(dispatched_at__isnull=False)
        & period.holds("due_at")
        & ~Q(state__in=[State.CANCELLED, State.MERGED])
    )


def _in_some_figure(period: Window) -> Q:
    """The cases counted in some case figure of the period: received, filed or due (the
    other figures count some of these)."""
    return ((period.holds("created_at") | period.holds("filed_at")) & REPORT) | _due(period)


def case_counts(
    period: Window, as_of: dt.datetime, closed_from: dt.datetime | None = None
) -> dict[str, Any]:
    """The aggregates of CaseFigures, as conditional COUNT/SUM expressions, named with
    FIGURE_PREFIX. `closed_from`: count only the closings from then on."""
    due = _due(period)
    counted = due & Q(suspended=False)
    closed = counted & Q(closed_at__lt=period.end_at)
    if closed_from is not None:
        closed &= Q(closed_at__gte=closed_from)
    on_time = closed & Q(closed_on_time=True)
    # closed_on_time is NULL while a case is open: open past its deadline is overdue.
    late = Q(closed_on_time=False) | Q(closed_on_time__isnull=True)
    overdue = counted & Q(due_at__lt=as_of) & late
    urgent = Q(urgent=True)
    counts = {
        "received": Count("pk", filter=period.holds("created_at") & REPORT),
        "filed": Count("pk", filter=period.holds("filed_at") & REPORT),
        "filed_late": Count(
            "pk", filter=period.holds("filed_at") & REPORT & Q(filed_at__gt=F("file_due_at"))
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


def _cases_in(cases: QuerySet[Case], period: Window) -> QuerySet[Case]:
    """The cases that count in some figure of the period (received, filed or due)."""
    relevant = period.holds("created_at") | period.holds("filed_at") | period.holds("due_at")
    return cases.filter(relevant)


# The case columns the monthly rollup (dispatch.models.EvaluationMonth) is kept by.
ROLLUP_KEYS: Final = frozenset({"district_id", "street_id", "community_id", "unit_id"})
CLOSED_FIGURES: Final = ("closed", "closed_on_time", "urgent_closed", "urgent_closed_on_time")

Groups = dict[Any, dict[str, int]]


def case_groups(audience: Audience, key: str, period: Period, as_of: dt.datetime) -> Groups:
    """The case figures (named with FIGURE_PREFIX) of the audience's cases by `key` (a
    Case column: district_id, …, cell_id, unit_id), the cases without one left out (never
    dispatched: no unit).

    For an audience the rollup can count (Audience.placed: the city, a department, the
    area of a street or district), the months of the period from rollup_months() are
    read from the monthly rollup, the rest from the cases in one aggregate: the days of
    the period outside those months, the first month's days before the period (taken
    away), and the closings in the period's last, partial month of cases due in the
    rollup's months. (Without such months, or by a key the rollup lacks, one aggregate
    over the placed cases.) A street's or district's cases elsewhere (Audience.elsewhere)
    are one more aggregate over the cases: not an OR with its area's, which reads every
    case of the period. The sums are those of one aggregate over the cases
    (tests/test_evaluation_rollup.py proves it)."""
    if audience.placed is None:
        return _counted(_aggregate(audience.cases, key, period, as_of))
    groups = _placed_groups(audience, audience.placed, key, period, as_of)
    if audience.elsewhere is not None:
        _add(groups, _aggregate(audience.elsewhere, key, period, as_of))
    return _counted(groups)


def _placed_groups(
    audience: Audience, placed: Q, key: str, period: Period, as_of: dt.datetime
) -> Groups:
    """case_groups of the audience's cases `placed`: the rollup's months and the parts
    beside them, or one aggregate."""
    months = rollup_months(period, as_of)
    table = _rollup_table(audience, key)
    if months is None or table is None:
        return _aggregate(audience.cases.filter(placed), key, period, as_of)
    groups = _rollup(table, placed, key, months, period)
    edges = Edges(period, months)
    parts = [Part(edges)] if edges.days else []
    if months.start < period.start:
        # The first month's days before the period, taken away.
        parts.append(Part(Span(months.start, period.start, period.end_at), sign=-1))
    last_month = period.end.replace(day=1)
    if months.end <= last_month < period.end:
        # Due in the rollup's months, closed in the last month before the period's end.
        closings = Span(months.start, months.end, period.end_at)
        parts.append(Part(closings, closed_from=_local_midnight(last_month)))
    if parts:
        _add(groups, _aggregate_parts(Case.objects.filter(placed), key, parts, as_of))
    return groups


def _counted(groups: Groups) -> Groups:
    """The groups with a case counted in some figure (a split report's child filed in
    the period but due in another is in none: no row of its own)."""
    return {key: figures for key, figures in groups.items() if any(figures.values())}


def _aggregate(cases: QuerySet[Case], key: str, period: Window, as_of: dt.datetime) -> Groups:
    """One aggregate over the cases."""
    groups = (
        _cases_in(cases.filter(**{f"{key}__isnull": False}), period)
        .values(key)
        .annotate(**case_counts(period, as_of))
    )
    return {group.pop(key): group for group in groups}


@dataclass(frozen=True)
class Part:
    """What case_groups reads from the cases beside the rollup: the figures of `window`,
    added or taken away (`sign`); with `closed_from`, only the closings from then on."""

    window: Window
    sign: int = 1
    closed_from: dt.datetime | None = None


def _aggregate_parts(
    cases: QuerySet[Case], key: str, parts: list[Part], as_of: dt.datetime
) -> Groups:
    """The sum of the parts' figures, in one aggregate over the cases (one scan of the
    rows any part holds)."""
    closed = {f"{FIGURE_PREFIX}{name}" for name in CLOSED_FIGURES}
    relevant = Q()
    annotations: dict[str, Any] = {}
    for index, part in enumerate(parts):
        counts = case_counts(part.window, as_of, part.closed_from)
        if part.closed_from is None:
            holds = ("created_at", "filed_at", "due_at")
            relevant |= reduce(operator.or_, (part.window.holds(column) for column in holds))
        else:
            relevant |= part.window.holds("due_at") & Q(closed_at__gte=part.closed_from)
            counts = {name: count for name, count in counts.items() if name in closed}
        annotations.update((f"p{index}_{name}", count) for name, count in counts.items())
    groups: Groups = {}
    rows = cases.filter(relevant, **{f"{key}__isnull": False})
    for row in rows.values(key).annotate(**annotations):
        group = row.pop(key)
        for index, part in enumerate(parts):
            prefix = f"p{index}_"
            figures = {
                name.removeprefix(prefix): value
                for name, value in row.items()
                if name.startswith(prefix)
            }
            _add(groups, {group: figures}, part.sign)
    return groups


def fold_rollups() -> None:
    """Move what the case writes appended to the rollups' logs into the rollups
    (migration 0013: a new case adds to rows shared by every report, which its own
    transaction would otherwise lock until it commits). Run before the rollups are read,
    and by the SLA worker on every pass; a fold finds the log empty most of the time."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT dispatch_evaluation_fold()")


def _rollup_table(
    audience: Audience, key: str
) -> type[EvaluationMonth] | type[EvaluationCellMonth] | None:
    """The monthly rollup that has `key`, if any: EvaluationMonth for the areas and
    units, EvaluationCellMonth for the cells of a page (Audience.page_cells)."""
    if key in ROLLUP_KEYS:
        return EvaluationMonth
    if key == "cell_id" and audience.page_cells:
        return EvaluationCellMonth
    return None


def _rollup(
    table: type[EvaluationMonth] | type[EvaluationCellMonth],
    placed: Q,
    key: str,
    months: Months,
    period: Period,
) -> Groups:
    """The case figures of the rollup's whole `months` by `key`; closings count up to
    the first day of the period's last month (the later ones: case_groups)."""
    sums = _rollup_sums(Q(closed_month__lt=period.end.replace(day=1)))
    if table is EvaluationMonth:
        fold_rollups()
    rows = (
        table.objects.filter(
            placed,
            month__gte=months.start,
            month__lt=months.end,
            n__gt=0,
            **{f"{key}__isnull": False},
        )
        .values(key)
        .annotate(**{f"{FIGURE_PREFIX}{name}": expression for name, expression in sums.items()})
    )
    return {row.pop(key): row for row in rows}


def day_sums(audience: Audience, period: Period, as_of: dt.datetime) -> dict[str, int]:
    """The sums of the case figures (named with FIGURE_PREFIX) of the audience's cases
    placed (Audience.placed of the city or a department: columns EvaluationDay has) over
    the whole period: its days before the as-of moment's day from the daily rollup
    (dispatch.models.EvaluationDay, for the city EvaluationDayTotal; every case due on
    them is due before the as-of moment, so 超期数 is its `late`), the rest (the days
    from today on, when the period ends after now) in one aggregate over the cases.
    The same sums as case_groups
    (tests/test_evaluation_cells.py)."""
    assert audience.placed is not None and audience.elsewhere is None
    today = as_of.astimezone(ZoneInfo(settings.TIME_ZONE)).date()
    split = min(period.end, max(period.start, today))
    sums = _rollup_sums(Q(closed_day__lt=period.end))
    fold_rollups()
    # The city (every case): the daily rollup without the unit, ~50 rows a day instead
    # of one per unit and day (EvaluationDayTotal).
    rows = (
        EvaluationDayTotal.objects.all()
        if audience.placed == Q()
        else EvaluationDay.objects.filter(audience.placed)
    )
    rolled = rows.filter(day__gte=period.start, day__lt=split, n__gt=0).aggregate(
        **{f"{FIGURE_PREFIX}{name}": expression for name, expression in sums.items()}
    )
    total: Groups = {"": rolled}
    if split < period.end:
        rest = Span(split, period.end, period.end_at)
        for figures in _aggregate(
            audience.cases.filter(audience.placed), "district_id", rest, as_of
        ).values():
            _add(total, {"": figures})
    return total[""]


def _rollup_sums(closed_before: Q) -> dict[str, Coalesce]:
    """The case figures as sums over the rows of a rollup (EvaluationMonth, EvaluationDay:
    the same kinds and columns); `closed_before`: the rows whose closings count."""
    kind = {value: Q(kind=value) for value in RollupKind}
    due = kind[RollupKind.DUE]
    closed = due & closed_before
    urgent = Q(urgent=True)

    def total(column: str, where: Q) -> Coalesce:
        return Coalesce(Sum(column, filter=where), 0)

    sums = {
        "received": total("n", kind[RollupKind.RECEIVED]),
        "filed": total("n", kind[RollupKind.FILED]),
        "filed_late": total("late", kind[RollupKind.FILED]),
        "due": total("n", due),
        "suspended": total("suspended", due),
        "closed": total("closed", closed),
        "closed_on_time": total("on_time", closed),
        "overdue": total("late", due),
        "rework": total("rework", due),
        "extensions": total("extensions", due),
        "urgent_due": total("n", due & urgent),
        "urgent_suspended": total("suspended", due & urgent),
        "urgent_closed": total("closed", closed & urgent),
        "urgent_closed_on_time": total("on_time", closed & urgent),
        "urgent_overdue": total("late", due & urgent),
    }
    return sums


def _add(groups: Groups, more: Groups, sign: int = 1) -> None:
    for key, figures in more.items():
        into = groups.setdefault(key, {})
        for name, value in figures.items():
            into[name] = into.get(name, 0) + sign * value


def area_rows(audience: Audience, *, tier: By, period: Period, as_of: dt.datetime) -> list[AreaRow]:
    """One row per area of `tier` (district, street, community, cell) with cases, and
    per area of the audience's territory (cells excepted) without: the case figures
    (case_groups), the 12345 replies of the history, the names of the areas."""
    groups = case_groups(audience, f"{tier}_id", period, as_of)
    # Grouped by the area's version; the versions of a redrawn area share its code and
    # make one row, named by the greatest of their names (as Max() in SQL).
    versions = _versions(groups)
    code_name = {pk: (code, name) for pk, code, name in versions.values_list("pk", "code", "name")}
    by_cases: dict[Any, dict[str, int]] = {}
    names: dict[Any, Any] = {}
    for key, figures in groups.items():
        code, name = code_name.get(key, (None, None))
        _add(by_cases, {code: figures})
        names[code] = name if names.get(code) is None else max(names[code], name or "")
    hotline = _hotline_groups(
        audience, f"case__{tier}__code", ("area_name", f"case__{tier}__name"), period, as_of
    )
    names.update((key, group["area_name"]) for key, group in hotline.items() if key not in names)
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


def _versions(ids: Iterable[Any]) -> QuerySet[Area]:
    """The areas (versions) of `ids`, with one array parameter, not IN with a parameter
    per area (thousands of cells: slow to bind)."""
    listed = RawSQL("layers_area.id = ANY(%s)", [list(ids)], output_field=BooleanField())
    return Area.objects.alias(listed=listed).filter(listed=True)


def cell_page(
    audience: Audience, *, period: Period, as_of: dt.datetime, page: slice
) -> tuple[list[AreaRow], int, dict[str, int]]:
    """The rows of `page` of the per-cell table (area_rows by cell, in code order), how
    many rows all pages hold and their sums (合计), without aggregating every cell; for
    the posts that read the rollup (Audience.placed: the city, a department).

    The cells with a row are found first: the distinct cells of the period's cases that
    count in some figure (_cells_with_figures) and of its 12345 history, mapped to their
    codes in the same statement. Only the page's cells are aggregated (area_rows: their
    whole months from the month x cell rollup, EvaluationCellMonth, the days beside them
    from their cases). The sums are those of every case (day_sums: the daily rollup, the
    days from today on from the cases) and of the 12345 figures. The same rows, count
    and sums as area_rows and _sums over every cell (tests/test_evaluation_cells.py)."""
    assert audience.placed is not None
    hotline = _hotline_groups(
        audience, "case__cell_id", ("area_name", "case__cell__name"), period, as_of
    )
    # The codes of the cells found, in one statement (the ids stay in the database).
    found = Q(pk__in=_cells_with_figures(audience, period)) | Q(pk__in=list(hotline))
    codes = list(
        Area.objects.filter(found).order_by("code").values_list("code", flat=True).distinct()
    )
    rows: list[AreaRow] = []
    if shown := codes[page]:
        # Every version of the page's codes: one without figures adds no row or figure.
        # (A list: as a subquery the planner misjudged the page's cases, 2-3x slower.)
        versions = Area.objects.filter(tier=Tier.CELL, code__in=shown)
        ids = list(versions.values_list("pk", flat=True))
        of_page = dataclasses.replace(
            audience,
            visible=audience.visible.filter(cell_id__in=ids),
            placed=audience.placed & Q(cell_id__in=ids),
            page_cells=True,
        )
        rows = area_rows(of_page, tier=By.CELL, period=period, as_of=as_of)
    sums: Groups = {"": _case_figures(day_sums(audience, period, as_of))}
    for figures in hotline.values():
        _add(sums, {"": _case_figures(figures)})
    return rows, len(codes), sums[""]


def _cells_with_figures(audience: Audience, period: Period) -> QuerySet[Any]:
    """The distinct cells (ids) of the audience's cases that count in some figure of the
    period (_in_some_figure), in one query. Those of the period's whole months come from
    the month x cell table (dispatch.models.EvaluationCell, kept by triggers; its columns
    answer Audience.placed of the city and a department). For the days beside them, only
    the cells the table has in their months and not in the whole months are looked up in
    the cases (an EXISTS per such cell: few, not a scan of the days' cases); the table's
    month holds every cell with a case in its days (tests/test_evaluation_cells.py). A
    period without a whole month reads the day x cell table (EvaluationCellDay)."""
    first = period.start if period.start.day == 1 else _next_month(period.start)
    last = period.end.replace(day=1)
    if audience.placed is None:
        cases = audience.cases.order_by().values_list("cell_id", flat=True)
        return cases.filter(_in_some_figure(period)).distinct()
    if first >= last:
        # No whole month: the cells of its days, from the day x cell table.
        days = EvaluationCellDay.objects.filter(
            audience.placed, day__gte=period.start, day__lt=period.end, n__gt=0
        )
        return days.values_list("cell_id", flat=True).distinct()
    months = Months(first, last)
    in_months = Q(month__gte=months.start, month__lt=months.end)
    table = EvaluationCell.objects.filter(audience.placed, n__gt=0)
    edges = Edges(period, months)
    if not edges.days:
        return table.filter(in_months).values_list("cell_id", flat=True).distinct()
    in_edges = audience.cases.filter(_in_some_figure(edges), cell_id=OuterRef("cell_id"))
    edge_months = [span.start.replace(day=1) for span in edges.days]
    return (
        table.filter(in_months | Q(month__in=edge_months))
        .values("cell_id")
        .annotate(whole=BoolOr(in_months))
        .filter(Q(whole=True) | Exists(in_edges))
        .values_list("cell_id", flat=True)
    )


def unit_rows(audience: Audience, *, period: Period, as_of: dt.datetime) -> list[UnitRow]:
    """One row per current responsible unit: the case figures (case_groups), the
    assignments, the 12345 replies of the history, the names of the units."""
    by_cases = case_groups(audience, "unit_id", period, as_of)
    assignments = Assignment.objects.filter(period.holds("at"), case__in=audience.visible)
    if audience.unit_id is not None:
        assignments = assignments.filter(unit_id=audience.unit_id)
    assigned = {
        group["unit_id"]: group["assigned"]
        for group in assignments.values("unit_id").annotate(assigned=Count("pk"))
    }
    hotline = _hotline_groups(
        audience, "case__unit_id", ("unit_name", "case__unit__name"), period, as_of
    )
    unit_ids = by_cases.keys() | assigned.keys() | hotline.keys()
    names = dict(Unit.objects.filter(pk__in=unit_ids).values_list("pk", "name"))
    rows = [
        UnitRow(
            unit_id=unit_id,
            name=names[unit_id],
            assigned=assigned.get(unit_id, 0),
            **_case_figures({**by_cases.get(unit_id, {}), **hotline.get(unit_id, {})}),
        )
        for unit_id in unit_ids
    ]
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
    # The same pass counts the 督办 made by hand (a leader or command centre: an actor;
    # the SLA worker's automatic ones have none).
    by_hand = Q(action="supervise", actor__isnull=False)
    replies = CaseEvent.objects.filter(
        Q(action="reply") | by_hand,
        period.holds("at"),
        case__in=audience.cases,
        **{f"{key}__isnull": False},
    )
    reply = Q(action="reply")
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
                f"{FIGURE_PREFIX}replies": Count("pk", filter=reply),
                f"{FIGURE_PREFIX}called_back": Count("pk", filter=reply & Q(was_called=True)),
                f"{FIGURE_PREFIX}reached": Count("pk", filter=reply & Q(was_reached=True)),
                f"{FIGURE_PREFIX}satisfied": Count("pk", filter=reply & Q(was_satisfied=True)),
                f"{FIGURE_PREFIX}reopened": Count("pk", filter=reply & Q(was_reopened=True)),
                f"{FIGURE_PREFIX}supervised": Count("pk", filter=by_hand),
            },
        )
    )
    return {group["key"]: dict(group) for group in groups}


def inspector_rows(audience: Audience, *, period: Period) -> list[InspectorRow]:
    """One row per reporting or verifying user: one query on cases, one on history."""
    reports = audience.cases.filter(
        period.holds("created_at"),
        source=Source.INSPECTOR,
        reporter__isnull=False,
        parent__isnull=True,  # a split report's children are not reports of their own
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
            verified_on_time=Count("pk", filter=ON_TIME_VERIFICATION),
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
