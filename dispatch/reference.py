"""The reference data every report reads, copied per process behind the routing stamp.

An inspector's report needs its category, the 立案 stage limit and the working calendar's
days; rendering a case with a deadline needs the calendar's last known year. They change
seldom (a data administrator in the admin or the API, an import of a year's holidays), so
each process keeps one copy and reads only the routing stamp per request to know whether
it is still good: the same stamp, and the same check, as the compiled routing rules
(dispatch.routing; migrations 0007 and 0014 — any statement on the catalogue, the units,
the rules, the stage limits or the calendar days gives it a new value). A request reads
the stamp once (current()) and hands the copy on: routing takes its stamp (route(stamp=)).

The copy is loaded after the stamp is read, so it is never older than its stamp; a change
committed in between makes the copy newer than its stamp, and the next read (a new stamp)
loads again. A stamp comes from a sequence and never repeats, so rolled-back changes (a
test's) cannot leave a copy that looks current.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection

from dispatch import calendar, holidays
from dispatch.models import CalendarDay, StageLimit
from layers.models import Category


def read_stamp() -> int:
    """The routing stamp: one query."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT stamp FROM dispatch_routing_stamp")
        return int(cursor.fetchone()[0])


@dataclass(frozen=True)
class Reference:
    """The catalogue, the stage limits and the calendar's days as of one stamp. Shared by
    the threads of the process: nothing in it is changed after loading (the categories
    are model instances a case may point to; nothing writes to them)."""

    stamp: int
    categories: dict[int, Category]
    stage_limits: dict[str, tuple[int, str]]  # stage → (limit, unit)
    days: dict[dt.date, bool]  # every CalendarDay row: date → is_workday
    known_until: dt.date | None  # holidays.known_until() of these days

    @classmethod
    def load(cls, stamp: int) -> Reference:
        days = dict(CalendarDay.objects.order_by().values_list("date", "is_workday"))
        return cls(
            stamp=stamp,
            categories={category.pk: category for category in Category.objects.all()},
            stage_limits={
                stage: (limit, unit)
                for stage, limit, unit in StageLimit.objects.values_list("stage", "limit", "unit")
            },
            days=days,
            known_until=holidays.year_end(max(days, default=None)),
        )

    def active_category(self, pk: int) -> Category | None:
        category = self.categories.get(pk)
        return category if category is not None and category.active else None

    def calendar_around(self, at: dt.datetime) -> calendar.WorkingCalendar:
        """A working calendar like WorkingCalendar.around(at), from this copy (no query)."""
        return calendar.WorkingCalendar.around(at, loader=self._exceptions)

    def _exceptions(self, first: dt.date, last: dt.date) -> dict[dt.date, bool]:
        return {day: work for day, work in self.days.items() if first <= day <= last}


_current: Reference | None = None


def current() -> Reference:
    """This process's copy, loaded again when the stamp has changed (one query when not)."""
    global _current
    stamp = read_stamp()
    copy = _current
    if copy is None or copy.stamp != stamp:
        copy = Reference.load(stamp)
        _current = copy
    return copy
