"""The working calendar and the deadline arithmetic of the SLA clock, on the holidays the
data migration loads (2026: 春节 Feb 15–23 with Saturdays Feb 14 and 28 worked, 国庆
Oct 1–7 with Sunday Sep 20 and Saturday Oct 10 worked). Office hours 09:00–12:00 and
14:00–18:00, Asia/Shanghai."""

from __future__ import annotations

import importlib
import io
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Browser, expect
from pytest_django import DjangoAssertNumQueries
from pytest_django.fixtures import Settings

from dispatch import holidays
from dispatch.calendar import (
    CalendarError,
    WorkingCalendar,
    add_working_seconds,
    deadline,
    remaining,
    resume,
    warning_time,
    working_seconds_between,
)
from dispatch.models import CalendarDay
from dispatch.sla import run_due
from gridmgmt import clock
from incidents.models import Case
from layers.models import Area, LimitUnit
from tests.browser import live_page, servable_passwords
from tests.loop import act, client_for, report

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOURS, DAYS, ELAPSED = LimitUnit.WORKING_HOURS, LimitUnit.WORKING_DAYS, LimitUnit.CALENDAR_HOURS
HOUR = 3600

pytestmark = pytest.mark.django_db


def at(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    """A Beijing-time instant (2026 unless told)."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


# Working hours


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (at(3, 10, 11), 2, at(3, 10, 15)),  # across lunch
        (at(3, 10, 17), 2, at(3, 11, 10)),  # overnight
        (at(3, 13, 17), 3, at(3, 16, 11)),  # Friday to Monday
        (at(3, 14, 10), 1, at(3, 16, 10)),  # from a Saturday: counts from Monday's opening
        (at(3, 10, 7, 30), 1, at(3, 10, 10)),  # before opening
        (at(3, 10, 12, 30), 1, at(3, 10, 15)),  # in the lunch break
        (at(3, 10, 20), 1, at(3, 11, 10)),  # in the evening
    ],
)
def test_working_hours_skip_lunch_nights_and_weekends(
    start: datetime, hours: int, due: datetime
) -> None:
    assert deadline(start, hours, HOURS) == due


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (at(3, 10, 9), 3, at(3, 10, 12)),  # runs out exactly at noon: due at noon
        (at(3, 10, 9), 7, at(3, 10, 18)),  # a whole day: due at the close, not next morning
        (at(3, 10, 12), 1, at(3, 10, 15)),  # from the noon close: counts from 14:00
        (at(3, 10, 14), 1, at(3, 10, 15)),  # from the opening
        (at(3, 13, 18), 1, at(3, 16, 10)),  # from Friday's close
        (at(3, 10, 11, 59), 1, at(3, 10, 14, 59)),
    ],
)
def test_working_hours_at_office_boundaries(start: datetime, hours: int, due: datetime) -> None:
    assert deadline(start, hours, HOURS) == due


def test_national_day_is_skipped_and_its_weekend_workdays_count() -> None:
    assert deadline(at(9, 30, 17), 2, HOURS) == at(10, 8, 10)
    assert deadline(at(10, 9, 17), 2, HOURS) == at(10, 10, 10)  # Saturday Oct 10 is worked
    assert deadline(at(9, 18, 17), 2, HOURS) == at(9, 20, 10)  # and Sunday Sep 20


def test_spring_festival_is_skipped_and_its_saturday_workdays_count() -> None:
    assert deadline(at(2, 13, 17), 2, HOURS) == at(2, 14, 10)  # Saturday Feb 14 is worked
    assert deadline(at(2, 14, 17), 2, HOURS) == at(2, 24, 10)  # then 9 days off
    assert deadline(at(2, 27, 17), 2, HOURS) == at(2, 28, 10)  # Saturday Feb 28 is worked


def test_deadlines_are_utc_whatever_zone_the_start_is_in() -> None:
    due = at(3, 10, 15)
    for start in (
        at(3, 10, 11),
        at(3, 10, 11).astimezone(UTC),
        at(3, 10, 11).astimezone(ZoneInfo("America/New_York")),  # a zone with DST
    ):
        result = deadline(start, 2, HOURS)
        assert result == due
        assert result.tzinfo is UTC
        assert result.isoformat() == "2026-03-10T07:00:00+00:00"


# Working days


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (at(3, 9, 10), 1, at(3, 10, 18)),  # the start day is not counted
        (at(3, 9, 8), 1, at(3, 10, 18)),  # not even when the start is before opening
        (at(3, 9, 10), 5, at(3, 16, 18)),  # a week, through a weekend
        (at(3, 14, 10), 1, at(3, 16, 18)),  # a Saturday start: day 1 is Monday
        (at(3, 10, 0, 30), 1, at(3, 11, 18)),  # local date, not UTC date (Mar 9 16:30 UTC)
        (at(9, 30, 10), 1, at(10, 8, 18)),  # National Day
        (at(10, 9, 10), 1, at(10, 10, 18)),  # Saturday Oct 10 is worked
        (at(2, 13, 10), 2, at(2, 24, 18)),  # Sat Feb 14 worked, then the Spring Festival
    ],
)
def test_working_days_count_from_the_next_working_day_and_end_at_the_close(
    start: datetime, days: int, due: datetime
) -> None:
    assert deadline(start, days, DAYS) == due


def test_twenty_working_days_across_the_spring_festival_take_one_query(
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    # Feb 3–13 (9 days), Sat 14 (10), Feb 24–27 (14), Sat 28 (15), Mar 2–6 (20).
    with django_assert_num_queries(1):
        due = deadline(at(2, 2, 10), 20, DAYS)
    assert due == at(3, 6, 18)


# Calendar hours and zero limits


def test_calendar_hours_ignore_office_hours_and_holidays(
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    with django_assert_num_queries(0):
        assert deadline(at(2, 14, 23), 24, ELAPSED) == at(2, 15, 23)
        assert deadline(at(10, 1, 3), 2, ELAPSED) == at(10, 1, 5)


@pytest.mark.parametrize("unit", list(LimitUnit))
def test_a_zero_limit_is_due_at_the_start(
    unit: LimitUnit, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    with django_assert_num_queries(0):
        assert deadline(at(2, 15, 20), 0, unit) == at(2, 15, 20)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        deadline(at(3, 10, 9), -1, HOURS)
    with pytest.raises(ValueError, match="naive"):
        deadline(datetime(2026, 3, 10, 9), 1, HOURS)
    with pytest.raises(ValueError, match="unit"):
        deadline(at(3, 10, 9), 1, "fortnights")
    with pytest.raises(ValueError, match="share"):
        warning_time(at(3, 10, 9), at(3, 10, 12), HOURS, 1.5)


# Office seconds, pausing and resuming


def test_working_seconds_between_count_office_time_only() -> None:
    assert working_seconds_between(at(3, 9, 10), at(3, 10, 10)) == 7 * HOUR
    assert working_seconds_between(at(3, 9, 11, 30), at(3, 9, 14, 30)) == HOUR
    assert working_seconds_between(at(3, 13, 17), at(3, 16, 10)) == 2 * HOUR
    assert working_seconds_between(at(10, 1, 9), at(10, 7, 18)) == 0  # National Day
    assert working_seconds_between(at(3, 10, 10), at(3, 9, 10)) == -7 * HOUR
    assert working_seconds_between(at(3, 10, 10), at(3, 10, 10)) == 0


def test_add_working_seconds_goes_forward_and_back() -> None:
    assert add_working_seconds(at(3, 10, 11), 90 * 60) == at(3, 10, 14, 30)
    assert add_working_seconds(at(3, 10, 14, 30), -90 * 60) == at(3, 10, 11)
    assert add_working_seconds(at(10, 8, 10), -2 * HOUR) == at(9, 30, 17)  # back over 国庆
    assert add_working_seconds(at(3, 10, 20), 0) == at(3, 10, 20)


def test_suspension_keeps_the_office_time_left() -> None:
    start = at(3, 9, 10)
    due = deadline(start, 8, HOURS)
    assert due == at(3, 10, 11)
    left = remaining(at(3, 9, 15), due, HOURS)  # 缓办 approved Monday 15:00
    assert left == 5 * HOUR  # Monday 15–18, Tuesday 9–11
    assert resume(at(3, 12, 16), left, HOURS) == at(3, 13, 12)  # Thursday 16–18, Friday 9–12


def test_suspension_over_a_holiday_resumes_after_it() -> None:
    due = deadline(at(9, 29, 9), 2, DAYS)
    assert due == at(10, 8, 18)
    left = remaining(at(9, 30, 18), due, DAYS)  # stopped at the close before National Day
    assert left == 7 * HOUR
    assert resume(at(10, 8, 9), left, DAYS) == due  # resumed the first morning after it


def test_suspension_of_a_calendar_hours_limit_keeps_elapsed_time() -> None:
    due = deadline(at(3, 10, 9), 24, ELAPSED)
    left = remaining(at(3, 10, 21), due, ELAPSED)
    assert left == 12 * HOUR
    assert resume(at(3, 14, 3), left, ELAPSED) == at(3, 14, 15)


def test_an_overdue_case_stays_overdue_by_the_same_office_time() -> None:
    due = at(3, 13, 17)
    left = remaining(at(3, 16, 10), due, HOURS)  # suspended Monday 10:00
    assert left == -2 * HOUR
    assert resume(at(3, 18, 10), left, HOURS) == at(3, 17, 17)
    assert remaining(at(3, 16, 10), due, ELAPSED) == -(2 * 24 + 17) * HOUR


# Warning time


def test_the_warning_comes_at_a_share_of_the_limit_in_the_limits_own_time(
    settings: Settings,
) -> None:
    start = at(3, 9, 9)
    assert warning_time(start, deadline(start, 10, HOURS), HOURS, 0.8) == at(3, 10, 10)
    assert warning_time(start, deadline(start, 10, ELAPSED), ELAPSED, 0.8) == at(3, 9, 17)
    start = at(3, 9, 10)
    due = deadline(start, 2, DAYS)  # Wednesday 18:00: 6 + 7 + 7 = 20 office hours
    assert warning_time(start, due, DAYS, 0.8) == at(3, 11, 12)  # 16 hours in
    settings.SLA_WARNING_SHARE = 0.5
    assert warning_time(start, due, DAYS) == at(3, 10, 15)  # 10 hours in


def test_warning_edges() -> None:
    start, due = at(2, 14, 17), at(2, 24, 10)  # 2 office hours over the Spring Festival
    assert warning_time(start, due, HOURS, 0.5) == at(2, 14, 18)  # exactly at the close
    assert warning_time(start, due, HOURS, 0) == start
    assert warning_time(start, due, HOURS, 1) == due
    assert warning_time(start, start, HOURS, 0.8) == start


# The calendar itself


def test_a_calendar_extends_its_range_when_the_arithmetic_runs_past_it(
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    with django_assert_num_queries(1):
        calendar = WorkingCalendar(date(2026, 2, 1), date(2026, 2, 10))
    with django_assert_num_queries(1):  # the rest of February and beyond
        assert deadline(at(2, 2, 10), 20, DAYS, calendar=calendar) == at(3, 6, 18)
    assert calendar.last >= date(2026, 3, 6)
    with django_assert_num_queries(1):  # back to 2025
        assert add_working_seconds(at(2, 2, 10), -8 * HOUR, calendar=calendar) == at(1, 30, 9)
    assert calendar.first < date(2026, 1, 30)
    with django_assert_num_queries(0):  # everything is loaded now
        assert working_seconds_between(at(1, 29, 17), at(3, 6, 18), calendar=calendar) > 0


def test_each_call_takes_at_most_one_query(
    django_assert_max_num_queries: DjangoAssertNumQueries,
) -> None:
    start = at(9, 30, 17)
    with django_assert_max_num_queries(1):
        due = deadline(start, 40, HOURS)
    with django_assert_max_num_queries(1):
        warning_time(start, due, HOURS, 0.8)
    with django_assert_max_num_queries(1):
        working_seconds_between(start, due)


def test_a_shared_calendar_serves_many_deadlines_without_more_queries(
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    with django_assert_num_queries(1):
        calendar = WorkingCalendar.around(at(2, 1))
        dues = {
            deadline(at(2, 1) + timedelta(minutes=m), 4, HOURS, calendar=calendar)
            for m in range(0, 30 * 24 * 60, 97)
        }
    assert min(dues) == at(2, 2, 15)  # from Sunday Feb 1: Monday 9–12 and 14–15
    assert max(dues) == at(3, 3, 15)


def test_changes_in_the_admin_count_at_once() -> None:
    assert deadline(at(3, 9, 17), 2, HOURS) == at(3, 10, 10)
    CalendarDay.objects.create(date=date(2026, 3, 10), is_workday=False, name="台风停工")
    assert deadline(at(3, 9, 17), 2, HOURS) == at(3, 11, 10)


def test_a_calendar_with_no_working_days_for_months_is_an_error() -> None:
    days = [date(2027, 1, 1) + timedelta(days=n) for n in range(100)]
    CalendarDay.objects.bulk_create(CalendarDay(date=day, is_workday=False) for day in days)
    with pytest.raises(CalendarError, match="工作日历"):
        deadline(at(1, 1, 9, year=2027), 1, HOURS)


def test_office_hours_come_from_the_settings(settings: Settings) -> None:
    settings.WORKING_HOURS = [("08:30", "17:30")]
    assert deadline(at(3, 10, 17), 1, HOURS) == at(3, 11, 9)
    assert deadline(at(3, 10, 10), 1, DAYS) == at(3, 11, 17, 30)
    settings.WORKING_HOURS = [("14:00", "18:00"), ("09:00", "12:00")]
    with pytest.raises(ImproperlyConfigured):
        deadline(at(3, 10, 17), 1, HOURS)


# The holiday data and the admin


def workdays_in(year: int) -> int:
    calendar = WorkingCalendar(date(year, 1, 1), date(year, 12, 31))
    first = date(year, 1, 1)
    return sum(calendar.is_workday(first + timedelta(days=n)) for n in range(365))


def test_2025_and_2026_have_248_working_days() -> None:
    # 365 days − 104 weekend days − 13 statutory holidays (those that fall on a weekend
    # are made up on a weekday), as both notices count.
    assert workdays_in(2025) == 248
    assert workdays_in(2026) == 248


def test_only_exceptions_to_the_working_week_are_stored() -> None:
    rows = CalendarDay.objects.filter(date__year__in=[2025, 2026])
    assert rows.count() == 18 + 5 + 19 + 6
    for row in rows:
        assert row.is_workday == (row.date.weekday() >= 5), row
    assert CalendarDay.objects.get(date=date(2026, 2, 14)).name == "春节调休"
    assert CalendarDay.objects.get(date=date(2026, 2, 16)).name == "春节"


def test_the_holiday_migration_reverses_to_what_was_there() -> None:
    migration = importlib.import_module("dispatch.migrations.0002_china_public_holidays")
    CalendarDay.objects.filter(date=date(2026, 10, 1)).update(name="国庆节（手工）")
    migration.remove_holidays(apps, None)
    # Only the row edited by hand is left.
    assert list(CalendarDay.objects.values_list("name", flat=True)) == ["国庆节（手工）"]
    migration.add_holidays(apps, None)
    assert CalendarDay.objects.count() == 48
    assert CalendarDay.objects.get(date=date(2026, 10, 1)).name == "国庆节（手工）"


def test_the_admin_lists_the_calendar(admin_client: Client) -> None:
    url = reverse("admin:dispatch_calendarday_changelist")
    response = admin_client.get(url, {"date__year": "2026", "is_workday__exact": "1"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "春节调休" in text
    assert response.context["cl"].result_count == 6


# The calendar as kept data (dispatch/holidays.py): imports, how far ahead it is known


CALENDAR_2027 = (
    "date,is_workday,name\n2027-01-01,0,元旦\n2027-02-06,1,春节调休\n2027-02-08,0,春节\n"
)


def test_the_demo_calendar_ends_with_2026_and_warns_on_4_december() -> None:
    assert holidays.known_until() == date(2026, 12, 31)
    assert holidays.days_known_ahead(date(2026, 12, 4)) == 27
    message = holidays.shortage_message(date(2026, 12, 4))
    assert message is not None and "2026-12-31" in message
    assert holidays.shortage_message(date(2026, 10, 1)) is None  # 91 days ahead


def test_a_file_replaces_the_years_it_names() -> None:
    CalendarDay.objects.create(date=date(2027, 5, 3), is_workday=False, name="旧数据")
    result = holidays.import_calendar(CALENDAR_2027.encode())
    assert result.errors == [] and result.years == [2027]
    assert (result.written, result.removed) == (3, 1)
    rows = CalendarDay.objects.filter(date__year=2027).order_by("date")
    assert [(d.date, d.is_workday, d.name) for d in rows] == [
        (date(2027, 1, 1), False, "元旦"),
        (date(2027, 2, 6), True, "春节调休"),
        (date(2027, 2, 8), False, "春节"),
    ]
    assert CalendarDay.objects.filter(date__year=2026).count() > 0  # other years kept
    assert holidays.known_until() == date(2027, 12, 31)
    assert holidays.shortage_message(date(2026, 12, 4)) is None
    # The holiday now counts: 1 working day from Thursday 31 December ends on Monday.
    assert deadline(at(12, 31, 10), 1, DAYS) == at(1, 4, 18, year=2027)


def test_bad_rows_reject_the_file_with_each_line_and_reason() -> None:
    before = CalendarDay.objects.count()
    bad = (
        "\ufeffdate,is_workday,name\n"
        "2027-01-01,0,元旦\n"
        "2027-13-01,0,x\n"  # line 3: no such date
        "2027-01-01,0,again\n"  # line 4: twice
        "2027-02-06,maybe,x\n"  # line 5: neither 0 nor 1
        "2027-01-04,1,x\n"  # line 6: a Monday worked is no exception
        "2027-01-02,0,x\n"  # line 7: a Saturday off is no exception
        "2027-01-05\n"  # line 8: one column
    )
    result = holidays.import_calendar(bad.encode())
    assert [line for line, _ in result.errors] == [3, 4, 5, 6, 7, 8]
    assert "2027-13-01" in result.errors[0][1] and "重复" in result.errors[1][1]
    assert CalendarDay.objects.count() == before
    wrong_header = holidays.import_calendar("day,off\n2027-01-01,0\n")
    assert [line for line, _ in wrong_header.errors] == [1]


def test_the_command_imports_and_fails_on_bad_rows(tmp_path: Path) -> None:
    good = tmp_path / "2027.csv"
    good.write_text(CALENDAR_2027.replace("date,is_workday,name", "日期,工作日,说明"))
    out = io.StringIO()
    call_command("import_calendar", str(good), stdout=out)
    assert "2027" in out.getvalue() and CalendarDay.objects.filter(date__year=2027).count() == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("date,is_workday,name\n2028-01-01,2,元旦\n")
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_calendar", str(bad), stdout=io.StringIO(), stderr=err)
    assert "line 2:" in err.getvalue()
    assert not CalendarDay.objects.filter(date__year=2028).exists()


@clock.travel(datetime(2026, 12, 4, 10, tzinfo=SHANGHAI), tick=False)
def test_the_admin_imports_a_file_shows_bad_rows_and_warns(admin_client: Client) -> None:
    changelist = reverse("admin:dispatch_calendarday_changelist")
    page = admin_client.get(changelist)
    assert page.status_code == 200 and "2026-12-31" in page.content.decode()
    assert reverse("admin:dispatch_calendarday_import") in page.content.decode()
    url = reverse("admin:dispatch_calendarday_import")
    bad = SimpleUploadedFile("bad.csv", b"date,is_workday,name\n2027-01-01,0,x\nnope,0,x\n")
    shown = admin_client.post(url, {"file": bad})
    assert shown.status_code == 200
    errors = shown.content.decode()
    assert 'id="calendar-errors"' in errors and "nope" in errors
    assert not CalendarDay.objects.filter(date__year=2027).exists()
    good = SimpleUploadedFile("2027.csv", CALENDAR_2027.encode())
    done = admin_client.post(url, {"file": good})
    assert done.status_code == 302 and done["Location"] == changelist
    assert CalendarDay.objects.filter(date__year=2027).count() == 3
    assert "2026-12-31" not in admin_client.get(changelist).content.decode()
    exported = admin_client.get(reverse("admin:dispatch_calendarday_export")).content.decode()
    assert "2027-02-06,1,春节调休" in exported


@clock.travel(datetime(2026, 12, 4, 10, tzinfo=SHANGHAI), tick=False)
def test_health_reports_the_calendar_and_warns_when_it_runs_short(client: Client) -> None:
    entry = client.get("/health/").json()["checks"]["calendar"]
    assert entry["ok"] is True and entry["known_until"] == "2026-12-31"
    assert entry["days_ahead"] == 27 and "2026-12-31" in entry["warning"]
    holidays.import_calendar(CALENDAR_2027)
    entry = client.get("/health/").json()["checks"]["calendar"]
    assert entry["days_ahead"] == 392 and "warning" not in entry


@clock.travel(datetime(2026, 12, 4, 10, tzinfo=SHANGHAI), tick=False)
def test_the_sla_worker_logs_the_shortage_once_an_hour(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="dispatch.holidays")
    assert holidays.log_shortage(force=True) is not None
    assert holidays.log_shortage() is None  # within the hour: not again
    run_due()
    assert sum("2026-12-31" in r.getMessage() for r in caplog.records) == 1


def test_a_deadline_past_the_calendar_is_flagged_on_the_case(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    with clock.travel(datetime(2026, 12, 31, 17, tzinfo=SHANGHAI), tick=False):
        case_id = report(loop["inspector"], small_city).json()["case"]["id"]
        assert act(loop["street"], case_id, "file").status_code == 200
        assert act(loop["street"], case_id, "dispatch").status_code == 200
        shown = client_for(loop["street"]).get(f"/api/cases/{case_id}/").json()
    assert shown["due_at"] is not None and shown["due_at"] > "2026-12-31T16"
    assert shown["due_beyond_calendar"] is True
    due = Case.objects.get(pk=case_id).due_at
    assert due is not None and due.year == 2027  # counted without that year's holidays
    holidays.import_calendar(CALENDAR_2027)
    shown = client_for(loop["street"]).get(f"/api/cases/{case_id}/").json()
    assert shown["due_beyond_calendar"] is False


def test_the_case_panel_says_when_a_deadline_is_past_the_calendar(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    beyond = report(loop["inspector"], small_city).json()["case"]["id"]
    within = report(loop["inspector"], small_city).json()["case"]["id"]
    Case.objects.filter(pk=beyond).update(due_at=datetime(2027, 1, 15, 18, tzinfo=SHANGHAI))
    Case.objects.filter(pk=within).update(due_at=datetime(2026, 11, 30, 18, tzinfo=SHANGHAI))
    servable_passwords()
    street = live_page(browser, server, "street", "/map/street/")
    for case_id, flagged in ((beyond, 1), (within, 0)):
        street.click(f".queue .case-row[data-case='{case_id}']")
        panel = street.locator(f".case-detail[data-case='{case_id}']")
        expect(panel).to_be_visible()
        expect(panel.locator(".facts .beyond-calendar")).to_have_count(flagged)
        if flagged:
            expect(panel.locator(".beyond-calendar")).to_have_text(
                "时限超出工作日历，未计入节假日，请核实"
            )
