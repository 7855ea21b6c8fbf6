"""The disposal clock of a case (处置时限): started at dispatch from the category's limit
(the urgent one for urgent cases), counted on the working calendar, paused while a 缓办
is approved, moved by an approved 延期, stopped at feedback.

The SLA worker looks at a case at `sla_check_at`, the first of: the warning time (a
share of the limit, SLA_WARNING_SHARE), the deadline (overdue → 催办, supervised by
the next tier), and one more limit's length after it (督办 by the city). next_check()
says which comes next.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from dispatch import calendar
from incidents.models import Case
from layers.models import LimitUnit

# Escalation levels after the deadline: 1 = 催办 (next tier supervises), 2 = 督办 (city).
LAST_LEVEL = 2


def limit_of(case: Case) -> tuple[int, str] | None:
    """The case's time limit and how it is counted, or None if its category has none."""
    category = case.category
    if case.urgent and category.urgent_time_limit:
        return category.urgent_time_limit, category.urgent_limit_unit
    if category.time_limit:
        return category.time_limit, category.limit_unit
    return None


def start(case: Case, at: dt.datetime, *, days: calendar.WorkingCalendar | None = None) -> None:
    """Start the clock at `at` (a dispatch): deadline, warning time, next check. `days`:
    a working calendar the caller holds already (the intake's, for 自动立案派遣)."""
    case.warned = case.overdue = False
    case.escalation_level = 0
    case.paused_remaining_s = None
    limit = limit_of(case)
    if limit is None:
        case.due_at = case.warn_at = case.sla_check_at = None
        case.limit_unit = ""
        return
    amount, unit = limit
    case.limit_unit = unit
    days = days or calendar.WorkingCalendar.around(at)  # one query for both computations
    case.due_at = calendar.deadline(at, amount, unit, calendar=days)
    case.warn_at = calendar.warning_time(
        at, case.due_at, unit, settings.SLA_WARNING_SHARE, calendar=days
    )
    case.sla_check_at = next_check(case)


def next_check(case: Case) -> dt.datetime | None:
    """When the SLA worker must next look at the case (None: no timer runs)."""
    if case.due_at is None or case.paused_remaining_s is not None:
        return None
    if not case.warned and case.warn_at is not None and case.warn_at < case.due_at:
        return case.warn_at
    if not case.overdue:
        return case.due_at
    if case.escalation_level < LAST_LEVEL and case.dispatched_at is not None:
        return case.due_at + (case.due_at - case.dispatched_at)
    return None


def start_verification(case: Case, at: dt.datetime, limit: tuple[int, str] | None) -> None:
    """The unit's feedback is in (`at`): the disposal clock stops and the verification
    stage's runs (核查时限, dispatch.models.StageLimit, on the working calendar). The SLA
    worker looks at the case at its warning time, then at the deadline (核查超期)."""
    case.verify_overdue = False
    case.sla_check_at = None
    if limit is None:
        case.verify_due_at = None
        return
    amount, unit = limit
    days = calendar.WorkingCalendar.around(at)
    case.verify_due_at = calendar.deadline(at, amount, unit, calendar=days)
    warn = calendar.warning_time(
        at, case.verify_due_at, unit, settings.SLA_WARNING_SHARE, calendar=days
    )
    case.sla_check_at = warn if warn < case.verify_due_at else case.verify_due_at


def stop(case: Case) -> None:
    case.sla_check_at = None


def resume_timer(case: Case) -> None:
    """The clock runs again with the same deadline (rework after failed verification)."""
    case.sla_check_at = next_check(case)


def pause(case: Case, at: dt.datetime) -> None:
    """缓办: keep the time left (negative when already overdue), stop the timer."""
    if case.due_at is None:
        return
    case.paused_remaining_s = calendar.remaining(at, case.due_at, case.limit_unit)
    case.sla_check_at = None


def unpause(case: Case, at: dt.datetime) -> None:
    """After 缓办: the deadline is the time that was left, counted from now; the warning
    keeps its distance before the deadline."""
    if case.paused_remaining_s is None or case.due_at is None:
        return
    before_due = None
    if case.warn_at is not None:
        before_due = calendar.remaining(case.warn_at, case.due_at, case.limit_unit)
    case.due_at = calendar.resume(at, case.paused_remaining_s, case.limit_unit)
    case.paused_remaining_s = None
    if before_due is not None:
        case.warn_at = calendar.resume(case.due_at, -before_due, case.limit_unit)
    case.sla_check_at = next_check(case)


def extend(case: Case, hours: int) -> None:
    """延期: the deadline moves `hours` later, counted like the limit."""
    if case.due_at is None:
        return
    if LimitUnit(case.limit_unit) == LimitUnit.CALENDAR_HOURS:
        case.due_at = case.due_at + dt.timedelta(hours=hours)
    else:
        case.due_at = calendar.deadline(case.due_at, hours, LimitUnit.WORKING_HOURS)
    case.overdue = False
    case.sla_check_at = next_check(case)
