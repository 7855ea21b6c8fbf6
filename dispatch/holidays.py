"""The working calendar as kept data: yearly imports, and how far ahead it is known.

The State Council publishes each year's public holidays and the weekend days worked
instead (调休) around November of the year before. They reach the calendar (CalendarDay)
through a file, imported in the admin (工作日历 → 导入) or with
`manage.py import_calendar FILE`. The file format, CSV in UTF-8 with a header row:

    date,is_workday,name
    2027-01-01,0,元旦
    2027-02-07,1,春节调休

- date: YYYY-MM-DD. Only exceptions to the Monday–Friday week are listed.
- is_workday: 0 (a holiday on a weekday: 休) or 1 (a weekend day worked: 班); also
  true/false, 休/班, 休息/上班.
- name: what the day is (at most 40 characters), may be empty.
The header may also be written 日期,工作日,说明.

A file gives whole years: the rows of every year it names replace that year's rows, so a
corrected notice is imported again as it is. Any bad row rejects the whole file, with
every bad row's line number and reason, and nothing is written.

Known until: the calendar is known to the end of the latest year that has rows. A
deadline that falls after that was counted as if the unknown year had no holidays; the
case says so (its `due_beyond_calendar`). When fewer than settings.CALENDAR_MIN_DAYS_AHEAD
days are known from today, /health/ and the admin warn, and the SLA worker logs a warning
(at most once an hour).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from dispatch.models import CalendarDay
from gridmgmt import clock

log = logging.getLogger(__name__)

HEADERS = {
    ("date", "is_workday", "name"): ("date", "is_workday", "name"),
    ("日期", "工作日", "说明"): ("date", "is_workday", "name"),
}
WORKDAY_WORDS = {
    "1": True, "true": True, "yes": True, "班": True, "上班": True,
    "0": False, "false": False, "no": False, "休": False, "休息": False,
}  # fmt: skip
NAME_LENGTH = CalendarDay._meta.get_field("name").max_length or 40
LOG_EVERY_S = 3600.0


@dataclass
class CalendarImport:
    """What an import did, or why it did nothing (errors: line number and reason)."""

    years: list[int] = field(default_factory=list)
    written: int = 0
    removed: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        if self.errors:
            return _("工作日历未导入：%(count)d 行有误") % {"count": len(self.errors)}
        return _("工作日历已导入：%(years)s 年，%(written)d 天（替换原有 %(removed)d 天）") % {
            "years": "、".join(str(year) for year in self.years),
            "written": self.written,
            "removed": self.removed,
        }


def import_calendar(data: bytes | str) -> CalendarImport:
    """Check every row of a calendar file; when all are good, replace the years it names."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.lstrip("\ufeff")
    result = CalendarImport()
    rows = list(csv.reader(io.StringIO(text)))
    header = tuple(cell.strip().lower() for cell in rows[0]) if rows else ()
    if header not in HEADERS:
        result.errors.append((1, _("表头应为 date,is_workday,name（或 日期,工作日,说明）")))
        return result
    days: dict[dt.date, tuple[bool, str]] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        parsed = _row(row, days)
        if isinstance(parsed, str):
            result.errors.append((line, parsed))
        else:
            days[parsed[0]] = parsed[1:]
    if not days and not result.errors:
        result.errors.append((2, _("文件中没有日期")))
    if result.errors:
        return result
    result.years = sorted({day.year for day in days})
    with transaction.atomic():
        result.removed, _deleted = CalendarDay.objects.filter(date__year__in=result.years).delete()
        CalendarDay.objects.bulk_create(
            CalendarDay(date=day, is_workday=workday, name=name)
            for day, (workday, name) in sorted(days.items())
        )
    result.written = len(days)
    return result


def _row(row: list[str], seen: dict[dt.date, tuple[bool, str]]) -> tuple[dt.date, bool, str] | str:
    if len(row) not in (2, 3):
        return _("应有 2 或 3 列，实有 %(count)d 列") % {"count": len(row)}
    text, kind, name = (*[cell.strip() for cell in row], "")[:3]
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return _("日期“%(value)s”无效，应为 YYYY-MM-DD") % {"value": text}
    if day in seen:
        return _("日期 %(day)s 重复") % {"day": day}
    workday = WORKDAY_WORDS.get(kind.lower())
    if workday is None:
        return _("工作日一栏“%(value)s”无效，应为 0 或 1（休/班）") % {"value": kind}
    if workday and day.weekday() < 5:
        return _("%(day)s 是周一至周五，本来就上班，不必列出") % {"day": day}
    if not workday and day.weekday() >= 5:
        return _("%(day)s 是周末，本来就休息，不必列出") % {"day": day}
    if len(name) > NAME_LENGTH:
        return _("说明超过 %(max)d 个字") % {"max": NAME_LENGTH}
    return day, workday, name


def known_until() -> dt.date | None:
    """The last date the calendar knows: 31 December of the latest year with rows."""
    return year_end(CalendarDay.objects.aggregate(last=Max("date"))["last"])


def year_end(last: dt.date | None) -> dt.date | None:
    """known_until() given the latest date with a row (dispatch.reference has the days)."""
    return None if last is None else dt.date(last.year, 12, 31)


def today() -> dt.date:
    return clock.localdate()


def days_known_ahead(on: dt.date | None = None) -> int:
    """Days of calendar data after `on` (default today, local): negative once run out."""
    until = known_until()
    on = on or today()
    return -1 if until is None else (until - on).days


def shortage_message(on: dt.date | None = None) -> str | None:
    """The warning when fewer than CALENDAR_MIN_DAYS_AHEAD days are known, else None."""
    ahead = days_known_ahead(on)
    if ahead >= settings.CALENDAR_MIN_DAYS_AHEAD:
        return None
    until = known_until()
    if until is None:
        return _("工作日历没有任何节假日数据，请导入。")
    if ahead < 0:
        return _("工作日历只到 %(until)s，已用完：期限按无节假日计算，请导入新一年的节假日。") % {
            "until": until
        }
    return _(
        "工作日历只到 %(until)s（还剩 %(days)d 天，少于 %(min)d 天），请导入新一年的节假日。"
    ) % {"until": until, "days": ahead, "min": settings.CALENDAR_MIN_DAYS_AHEAD}


def beyond(due: dt.datetime | None, until: dt.date | None) -> bool:
    """Whether a deadline falls after the known calendar (counted without its holidays)."""
    if due is None:
        return False
    return until is None or timezone.localtime(due).date() > until


_last_logged = [float("-inf")]


def log_shortage(*, force: bool = False) -> str | None:
    """For the SLA worker: log the shortage as a warning, at most once every hour."""
    if not force and time.monotonic() - _last_logged[0] < LOG_EVERY_S:
        return None
    message = shortage_message()
    if message is not None:
        log.warning("%s", message)
        _last_logged[0] = time.monotonic()
    return message


def rows_of(days: Iterable[CalendarDay]) -> str:
    """CalendarDay rows in the import format (the admin's export, tests)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "is_workday", "name"])
    for day in days:
        writer.writerow([day.date.isoformat(), int(day.is_workday), day.name])
    return out.getvalue()
