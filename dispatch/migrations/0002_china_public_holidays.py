"""China's public holidays and 调休 working weekend days for 2025 and 2026, from the
State Council General Office notices (国务院办公厅关于2025年部分节假日安排的通知,
国办发明电〔2024〕12号; 关于2026年部分节假日安排的通知, published November 2025).

Only exceptions to the Monday–Friday week are stored, as CalendarDay says: the weekdays
inside each holiday and the weekend days worked instead. Holiday days that fall on a
weekend need no row and get none.

Later years are added in the admin (指挥调度 › 工作日历): the State Council publishes the
next year's schedule around November each year (the 2027 one in late 2026).
"""

from datetime import date, timedelta

from django.db import migrations

# (name, first day off, last day off, weekend days worked instead)
HOLIDAYS = [
    ("元旦", "2025-01-01", "2025-01-01", []),
    ("春节", "2025-01-28", "2025-02-04", ["2025-01-26", "2025-02-08"]),
    ("清明节", "2025-04-04", "2025-04-06", []),
    ("劳动节", "2025-05-01", "2025-05-05", ["2025-04-27"]),
    ("端午节", "2025-05-31", "2025-06-02", []),
    ("国庆节、中秋节", "2025-10-01", "2025-10-08", ["2025-09-28", "2025-10-11"]),
    ("元旦", "2026-01-01", "2026-01-03", ["2026-01-04"]),
    ("春节", "2026-02-15", "2026-02-23", ["2026-02-14", "2026-02-28"]),
    ("清明节", "2026-04-04", "2026-04-06", []),
    ("劳动节", "2026-05-01", "2026-05-05", ["2026-05-09"]),
    ("端午节", "2026-06-19", "2026-06-21", []),
    ("中秋节", "2026-09-25", "2026-09-27", []),
    ("国庆节", "2026-10-01", "2026-10-07", ["2026-09-20", "2026-10-10"]),
]


def exceptions():
    """(date, is_workday, name) for every row this migration owns."""
    for name, first, last, worked in HOLIDAYS:
        day, last_day = date.fromisoformat(first), date.fromisoformat(last)
        while day <= last_day:
            if day.weekday() < 5:
                yield day, False, name
            day += timedelta(days=1)
        for worked_day in map(date.fromisoformat, worked):
            assert worked_day.weekday() >= 5, f"{worked_day} is not a weekend day"
            yield worked_day, True, f"{name}调休"


def add_holidays(apps, schema_editor):
    CalendarDay = apps.get_model("dispatch", "CalendarDay")
    rows = [CalendarDay(date=d, is_workday=w, name=n) for d, w, n in exceptions()]
    # A date already entered by hand in the admin is kept as it is.
    CalendarDay.objects.bulk_create(rows, ignore_conflicts=True)


def remove_holidays(apps, schema_editor):
    CalendarDay = apps.get_model("dispatch", "CalendarDay")
    for day, is_workday, name in exceptions():
        CalendarDay.objects.filter(date=day, is_workday=is_workday, name=name).delete()


class Migration(migrations.Migration):
    dependencies = [("dispatch", "0001_initial")]

    operations = [migrations.RunPython(add_holidays, remove_holidays)]
