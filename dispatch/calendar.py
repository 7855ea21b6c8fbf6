"""The working calendar and the deadline arithmetic of the SLA clock.

Time: every datetime in and out is timezone-aware; results are in UTC. Office hours
(settings.WORKING_HOURS) are local time in settings.TIME_ZONE (Asia/Shanghai), so the
arithmetic walks local dates and turns each office interval into UTC instants.

Working days are Monday–Friday, except the CalendarDay rows: a public holiday on a
weekday (is_workday False) or a weekend day worked instead (调休, is_workday True).

The three kinds of limit (layers.models.LimitUnit):

- WORKING_HOURS: `amount` hours of office time. Time outside office hours, weekends and
  holidays does not count; a start outside office hours starts counting at the next
  opening.
- WORKING_DAYS: the day of the start is not counted (期限开始的当日不计入); day 1 is the
  first working day after the start's local date, and the limit ends at the close of
  office hours on the Nth working day. A start on a day off counts the same way.
- CALENDAR_HOURS: plain elapsed hours.

Boundaries: office intervals are half-open, [opening, closing). A start exactly at a
closing time (12:00, 18:00) counts from the next opening; a start exactly at an opening
counts from there. A deadline is the earliest instant at which the limit is used up, so
a limit that runs out exactly at a closing time ends at that closing time (09:00 + 3
working hours is 12:00, not 14:00). A limit of 0 is due at the start itself.

Pausing (缓办): when a case is suspended, store `left = remaining(paused_at, due, unit)`:
office seconds for working limits, elapsed seconds for calendar hours, negative when
already overdue (the case then stays overdue by as much). When it resumes,
`resume(resumed_at, left, unit)` is the new due instant. A warning instant still ahead
pauses and resumes the same way.

Cost (measured on the 2-core development machine): deadline() builds its own calendar
with one query, about 0.4 ms a call, nearly all of it the query; with a calendar passed
in it makes no query and takes 10-30 µs (4 working hours; 20 working days across the
Spring Festival). Calendar hours take 3 µs and no query. The intake takes its days from a
per-process copy kept behind the routing stamp (dispatch.reference: any change to the
days gives the stamp a new value, which every process reads per report), passed in as
a loader; other callers query. A caller that needs several instants at once (deadline and
warning time at dispatch, a bulk import, the SLA worker) builds one WorkingCalendar and
passes it as `calendar=`. A WorkingCalendar grows as it is used: keep it to one thread.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dispatch.models import CalendarDay
from layers.models import LimitUnit

Interval = tuple[datetime, datetime]
Loader = Callable[[date, date], dict[date, bool]]

_ONE_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)
# Dates loaded per query beyond what is asked: the table holds a few dozen rows a year,
# so a wide range costs no more than a narrow one and saves a second query.
_CHUNK = timedelta(days=120)
# No office time for this long means the calendar is wrong (the longest real break, the
# Spring Festival, is 9 days); stop rather than loop for ever.
_MAX_IDLE_DAYS = 62


class CalendarError(Exception):
    """The calendar has no working day for months: the CalendarDay rows are wrong."""


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant!r}: the SLA clock needs aware datetimes")
    return instant.astimezone(UTC)


@functools.lru_cache(maxsize=4)
def _parse_hours(spec: tuple[tuple[str, str], ...]) -> tuple[tuple[time, time], ...]:
    hours = tuple((time.fromisoformat(opens), time.fromisoformat(closes)) for opens, closes in spec)
    bounds = [moment for interval in hours for moment in interval]
    if not hours or bounds != sorted(bounds) or any(opens == closes for opens, closes in hours):
        raise ImproperlyConfigured(
            f"WORKING_HOURS must be ascending, non-empty (opening, closing) pairs: {spec!r}"
        )
    return hours


def office_hours() -> tuple[tuple[time, time], ...]:
    """settings.WORKING_HOURS as (opening, closing) local times."""
    return _parse_hours(tuple((opens, closes) for opens, closes in settings.WORKING_HOURS))


def load_exceptions(first: date, last: date) -> dict[date, bool]:
    """The CalendarDay rows from `first` to `last` inclusive, as date → is_workday."""
    rows = CalendarDay.objects.filter(date__range=(first, last)).order_by()
    return dict(rows.values_list("date", "is_workday"))


class WorkingCalendar:
    """Working days and office intervals over a range of local dates. Built with one
    query; asked about a date outside the range, it loads one more chunk (one query)."""

    def __init__(self, first: date, last: date, *, loader: Loader = load_exceptions) -> None:
        self.first, self.last = first, last
        self._loader = loader
        self._exceptions = loader(first, last)
        self._hours = office_hours()
        self._zone = timezone.get_default_timezone()

    @classmethod
    def around(cls, *instants: datetime, loader: Loader = load_exceptions) -> WorkingCalendar:
        """A calendar from the first instant's local date to a chunk past the last's."""
        zone = timezone.get_default_timezone()
        days = [_utc(instant).astimezone(zone).date() for instant in instants]
        return cls(min(days), max(days) + _CHUNK, loader=loader)

    def is_workday(self, day: date) -> bool:
        self._cover(day)
        return self._exceptions.get(day, day.weekday() < 5)

    def local_date(self, instant: datetime) -> date:
        return _utc(instant).astimezone(self._zone).date()

    def closing(self, day: date) -> datetime:
        """The end of office hours on `day`, in UTC."""
        return self._instant(day, self._hours[-1][1])

    def office_intervals(self, day: date) -> list[Interval]:
        """The day's office intervals in UTC; none on a day off."""
        if not self.is_workday(day):
            return []
        return [
            (self._instant(day, opens), self._instant(day, closes)) for opens, closes in self._hours
        ]

    def workdays(self, day: date, *, step: int = 1) -> Iterator[date]:
        """Working days from `day` (included) onward, or backward with step=-1."""
        start, idle = day, 0
        while idle <= _MAX_IDLE_DAYS:
            if self.is_workday(day):
                idle = 0
                yield day
            else:
                idle += 1
            day += step * _ONE_DAY
        raise CalendarError(
            _("工作日历自 %(day)s 起连续 %(count)d 天没有工作日，请检查工作日历。")
            % {"day": start, "count": _MAX_IDLE_DAYS}
        )

    def intervals_after(self, instant: datetime) -> Iterator[Interval]:
        """Office intervals from `instant` on, the first one clipped to begin there."""
        instant = _utc(instant)
        for day in self.workdays(self.local_date(instant)):
            for opens, closes in self.office_intervals(day):
                if closes > instant:
                    yield max(opens, instant), closes

    def intervals_before(self, instant: datetime) -> Iterator[Interval]:
        """Office intervals up to `instant`, latest first, the first clipped to end there."""
        instant = _utc(instant)
        for day in self.workdays(self.local_date(instant), step=-1):
            for opens, closes in reversed(self.office_intervals(day)):
                if opens < instant:
                    yield opens, min(closes, instant)

    def _instant(self, day: date, moment: time) -> datetime:
        return datetime.combine(day, moment, tzinfo=self._zone).astimezone(UTC)

    def _cover(self, day: date) -> None:
        if day > self.last:
            last = max(day, self.last + _CHUNK)
            self._exceptions.update(self._loader(self.last + _ONE_DAY, last))
            self.last = last
        elif day < self.first:
            first = min(day, self.first - _CHUNK)
            self._exceptions.update(self._loader(first, self.first - _ONE_DAY))
            self.first = first


def deadline(
    start: datetime, amount: int, unit: str, *, calendar: WorkingCalendar | None = None
) -> datetime:
    """When a limit of `amount` `unit`s that starts at `start` runs out (UTC).

    - WORKING_HOURS: `amount` hours of office time, counted from `start` or from the next
      opening when `start` is outside office hours.
    - WORKING_DAYS: the close of office hours on the `amount`-th working day after the
      start's local date; the day of the start is not counted (期限开始的当日不计入),
      whether or not it is a working day and whatever the hour.
    - CALENDAR_HOURS: `start` plus `amount` hours.

    A limit of 0 is due at `start`.
    """
    if amount < 0:
        raise ValueError(f"negative time limit {amount}")
    start = _utc(start)
    unit = _checked(unit)
    if amount == 0:
        return start
    if unit == LimitUnit.CALENDAR_HOURS:
        return start + timedelta(hours=amount)
    if unit == LimitUnit.WORKING_HOURS:
        return add_working_seconds(start, amount * 3600, calendar=calendar)
    calendar = calendar or WorkingCalendar.around(start)
    first_day = calendar.local_date(start) + _ONE_DAY
    last_day = next(islice(calendar.workdays(first_day), amount - 1, None))
    return calendar.closing(last_day)


def working_seconds_between(
    a: datetime, b: datetime, *, calendar: WorkingCalendar | None = None
) -> int:
    """Office seconds from `a` to `b` (negative when `b` is before `a`)."""
    a, b = _utc(a), _utc(b)
    if b < a:
        return -working_seconds_between(b, a, calendar=calendar)
    calendar = calendar or WorkingCalendar.around(a, b)
    total = timedelta()
    for opens, closes in calendar.intervals_after(a):
        if opens >= b:
            break
        total += min(closes, b) - opens
    return total // _SECOND


def add_working_seconds(
    start: datetime, seconds: int, *, calendar: WorkingCalendar | None = None
) -> datetime:
    """The earliest instant with `seconds` of office time between `start` and it (UTC).

    Negative `seconds` go back: the latest instant that much office time before `start`.
    """
    start = _utc(start)
    if seconds == 0:
        return start
    calendar = calendar or WorkingCalendar.around(start)
    left = timedelta(seconds=abs(seconds))
    if seconds > 0:
        for opens, closes in calendar.intervals_after(start):
            if closes - opens >= left:
                return opens + left
            left -= closes - opens
    else:
        for opens, closes in calendar.intervals_before(start):
            if closes - opens >= left:
                return closes - left
            left -= closes - opens
    raise AssertionError("unreachable: the interval iterators end only by raising")


def remaining(
    at: datetime, due: datetime, unit: str, *, calendar: WorkingCalendar | None = None
) -> int:
    """Seconds left on the clock at `at` (negative: overdue by that much), in the limit's
    kind of time: office seconds for working hours and days, elapsed seconds for
    calendar hours. Stored when a case is suspended (缓办)."""
    if _checked(unit) == LimitUnit.CALENDAR_HOURS:
        return (_utc(due) - _utc(at)) // _SECOND
    return working_seconds_between(at, due, calendar=calendar)


def resume(
    at: datetime, seconds: int, unit: str, *, calendar: WorkingCalendar | None = None
) -> datetime:
    """The new due instant of a clock restarted at `at` with `seconds` left, as given by
    remaining() when it stopped."""
    if _checked(unit) == LimitUnit.CALENDAR_HOURS:
        return _utc(at) + timedelta(seconds=seconds)
    return add_working_seconds(at, seconds, calendar=calendar)


def warning_time(
    start: datetime,
    due: datetime,
    unit: str,
    share: float | None = None,
    *,
    calendar: WorkingCalendar | None = None,
) -> datetime:
    """The instant at which `share` (default settings.SLA_WARNING_SHARE) of the time from
    `start` to `due` has passed, measured as the limit is: office time for working hours
    and days, elapsed time for calendar hours."""
    share = settings.SLA_WARNING_SHARE if share is None else share
    if not 0 <= share <= 1:
        raise ValueError(f"warning share {share} outside 0..1")
    start, due = _utc(start), _utc(due)
    if due < start:
        raise ValueError(f"due {due} before start {start}")
    if _checked(unit) == LimitUnit.CALENDAR_HOURS:
        return start + (due - start) * share
    calendar = calendar or WorkingCalendar.around(start, due)
    total = working_seconds_between(start, due, calendar=calendar)
    return add_working_seconds(start, int(total * share), calendar=calendar)


def _checked(unit: str) -> LimitUnit:
    try:
        return LimitUnit(unit)
    except ValueError:
        raise ValueError(f"unknown time limit unit {unit!r}") from None
