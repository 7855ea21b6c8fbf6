"""The daily counts (analysis_daily) kept by the triggers on incidents_case: a small
hand-computed example through inserts, updates and deletes, a randomized comparison with
the same grouping done on the cases, and the trends and top categories read from them
equal to the same views read from the cases (for the city and for a district, whose
cases assigned to its unit in another district are added from the cases)."""

from __future__ import annotations

import datetime as dt
import io
import random
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.db.models import Q

from analysis import daily
from analysis import queries as q
from analysis.models import DailyCount
from dispatch.evaluation import Period
from incidents.models import Case, Channel, Source, State
from layers.models import Area, Category, Staff
from tests.cast import CELLS, centre

SH = ZoneInfo("Asia/Shanghai")
COLUMNS = ("received", "due", "due_suspended", "due_closed", "due_on_time")


def t(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, tzinfo=SH)


def make_case(city: dict[str, Area], code: str, category: Category, **fields: Any) -> Case:
    cell = city[code]
    values: dict[str, Any] = {
        "source": Source.INSPECTOR,
        "channel": Channel.APP,
        "category": category,
        "description": "测试案件",
        "geom": centre(cell),
        "datum": "wgs84",
        "cell": cell,
        "community": city[code[:12]],
        "street": city[code[:9]],
        "district": city[code[:6]],
        "state": State.REPORTED,
        "updated_at": fields.get("created_at", t(3, 1)),
    }
    values.update(fields)
    return Case.objects.create(**values)


def counts() -> dict[tuple[dt.date, int, int], tuple[int, ...]]:
    """The daily counts without the rows that sum to nothing."""
    out = {}
    daily.fold()  # what the writes appended to the log (migration 0006)
    for row in DailyCount.objects.all():
        figures = tuple(getattr(row, c) for c in COLUMNS)
        if any(figures):
            out[(row.day, row.district_id, row.category_id)] = figures
    return out


RAW = """
SELECT day, district_id, category_id, sum(r), sum(d), sum(s), sum(c), sum(o) FROM (
    SELECT (created_at AT TIME ZONE 'Asia/Shanghai')::date AS day, district_id, category_id,
           1 AS r, 0 AS d, 0 AS s, 0 AS c, 0 AS o
    FROM incidents_case
    UNION ALL
    SELECT (due_at AT TIME ZONE 'Asia/Shanghai')::date, district_id, category_id, 0, 1,
           suspended::int, (NOT suspended AND closed_at IS NOT NULL)::int,
           (NOT suspended AND closed_on_time IS TRUE)::int
    FROM incidents_case
    WHERE due_at IS NOT NULL AND dispatched_at IS NOT NULL
      AND state NOT IN ('cancelled', 'merged')
) x GROUP BY 1, 2, 3
"""


def raw_counts() -> dict[tuple[dt.date, int, int], tuple[int, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(RAW)
        return {
            (day, district, category): tuple(int(v) for v in rest)
            for day, district, category, *rest in cursor.fetchall()
        }


@pytest.fixture
def catalogue(db: None) -> list[Category]:
    call_command("loaddata", "catalogue", stdout=io.StringIO())
    rows = Category.objects.filter(kind="event").exclude(minor_code="")
    return list(rows.order_by("major_code", "minor_code")[:6])


def test_counts_follow_inserts_updates_and_deletes(
    small_city: dict[str, Area], catalogue: list[Category]
) -> None:
    a, b = catalogue[0], catalogue[1]
    own = CELLS["own"]
    tianhe = small_city[own[:6]].pk
    # Reported 3 March 23:30 Beijing time = 15:30 UTC: counted on the local day, 3 March.
    first = make_case(
        small_city, own, a, created_at=t(3, 3, 23).replace(minute=30),
        state=State.SIGNED, filed_at=t(3, 4), dispatched_at=t(3, 4), due_at=t(3, 6),
    )  # fmt: skip
    make_case(small_city, own, a, created_at=t(3, 3))
    make_case(small_city, own, b, created_at=t(3, 4), state=State.CANCELLED)
    assert counts() == {
        (dt.date(2025, 3, 3), tianhe, a.pk): (2, 0, 0, 0, 0),
        (dt.date(2025, 3, 4), tianhe, b.pk): (1, 0, 0, 0, 0),
        (dt.date(2025, 3, 6), tianhe, a.pk): (0, 1, 0, 0, 0),
    }
    # Closed on time: the due day's row counts it closed and on time.
    first.state, first.closed_at, first.closed_on_time = State.CLOSED, t(3, 5), True
    first.save()
    assert counts()[(dt.date(2025, 3, 6), tianhe, a.pk)] == (0, 1, 0, 1, 1)
    # A column the counts do not read changes nothing.
    Case.objects.filter(pk=first.pk).update(warned=True, description="改")
    assert counts()[(dt.date(2025, 3, 6), tianhe, a.pk)] == (0, 1, 0, 1, 1)
    # Suspended at some time: out of closed and on time, counted as suspended.
    Case.objects.filter(pk=first.pk).update(suspended=True)
    assert counts()[(dt.date(2025, 3, 6), tianhe, a.pk)] == (0, 1, 1, 0, 0)
    # Recategorised: both its rows move to category b.
    Case.objects.filter(pk=first.pk).update(category=b)
    assert counts() == {
        (dt.date(2025, 3, 3), tianhe, a.pk): (1, 0, 0, 0, 0),
        (dt.date(2025, 3, 3), tianhe, b.pk): (1, 0, 0, 0, 0),
        (dt.date(2025, 3, 4), tianhe, b.pk): (1, 0, 0, 0, 0),
        (dt.date(2025, 3, 6), tianhe, b.pk): (0, 1, 1, 0, 0),
    }
    # Merged: no longer due anywhere; deleted: gone.
    Case.objects.filter(pk=first.pk).update(state=State.MERGED)
    assert (dt.date(2025, 3, 6), tianhe, b.pk) not in counts()
    Case.objects.filter(pk=first.pk).delete()
    assert counts() == {
        (dt.date(2025, 3, 3), tianhe, a.pk): (1, 0, 0, 0, 0),
        (dt.date(2025, 3, 4), tianhe, b.pk): (1, 0, 0, 0, 0),
    }


def random_cases(city: dict[str, Area], categories: list[Category], n: int, seed: int) -> None:
    rng = random.Random(seed)
    codes = [c for c in city if len(c) == 15]
    states = [State.REPORTED, State.SIGNED, State.CLOSED, State.CANCELLED, State.MERGED]
    cases = []
    for _ in range(n):
        created = t(3, 1) + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 40))
        state = rng.choice(states)
        fields: dict[str, Any] = {"created_at": created, "state": state}
        if state != State.REPORTED or rng.random() < 0.3:
            fields.update(
                dispatched_at=created if rng.random() < 0.9 else None,
                due_at=created + dt.timedelta(hours=rng.randrange(1, 24 * 12)),
                suspended=rng.random() < 0.1,
            )
        if state == State.CLOSED:
            fields.update(
                closed_at=created + dt.timedelta(days=2), closed_on_time=rng.random() < 0.6
            )
        code = rng.choice(codes)
        cell = city[code]
        cases.append(
            Case(
                source=Source.INSPECTOR, channel=Channel.APP, category=rng.choice(categories),
                description="随机", geom=centre(cell), datum="wgs84", cell=cell,
                community=city[code[:12]], street=city[code[:9]], district=city[code[:6]],
                updated_at=created, **fields,
            )
        )  # fmt: skip
    Case.objects.bulk_create(cases)  # one INSERT statement: one grouped upsert
    ids = list(Case.objects.values_list("pk", flat=True))
    for pk in rng.sample(ids, len(ids) // 4):  # one statement each, as the services do
        Case.objects.filter(pk=pk).update(
            state=State.CLOSED, closed_at=t(4, 20), closed_on_time=rng.random() < 0.5
        )
    # A statement changing many rows at once, as the SLA worker's and the redraws do.
    Case.objects.filter(pk__in=rng.sample(ids, len(ids) // 5)).update(
        category=rng.choice(categories)
    )
    Case.objects.filter(pk__in=rng.sample(ids, len(ids) // 10)).delete()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counts_equal_the_cases_grouped_after_random_writes(
    small_city: dict[str, Area], catalogue: list[Category], seed: int
) -> None:
    random_cases(small_city, catalogue, 300, seed)
    assert Case.objects.count() > 200
    assert counts() == {k: v for k, v in raw_counts().items() if any(v)}


def from_cases(user: User, call: Any) -> Any:
    """The view with the daily counts switched off: read from the cases alone."""
    original = daily.daily_scope
    daily.daily_scope = lambda user: None  # type: ignore[assignment]
    try:
        return call()
    finally:
        daily.daily_scope = original


@pytest.mark.parametrize("username", ["city", "district"])
def test_trends_and_categories_from_the_counts_equal_those_from_the_cases(
    small_city: dict[str, Area], cast: dict[str, User], catalogue: list[Category], username: str
) -> None:
    random_cases(small_city, catalogue, 300, 7)
    user = cast[username]
    staff = Staff.objects.select_related("unit").get(user=user)
    # A case of another district assigned to the user's unit: seen, added from the cases.
    other = CELLS["other_district"]
    make_case(
        small_city, other, catalogue[0], created_at=t(3, 9), state=State.SIGNED,
        dispatched_at=t(3, 9), due_at=t(3, 12), unit=staff.unit,
    )  # fmt: skip
    split = daily.daily_scope(user)
    assert split is not None
    assert split.extra.count() == (0 if username == "city" else 1)
    majors = Category.objects.filter(kind="event", minor_code="")
    major = majors.get(major_code=catalogue[0].major_code)
    for filters in (
        q.Filters(period=Period(dt.date(2025, 3, 1), dt.date(2025, 4, 1))),
        q.Filters(period=Period(dt.date(2025, 3, 5), dt.date(2025, 4, 20)), major=major),
        q.Filters(period=Period(dt.date(2025, 3, 1), dt.date(2025, 3, 20)), category=catalogue[1]),
    ):
        for step in ("day", "week"):
            fast = q.trends(user, filters, step)
            assert fast == from_cases(user, lambda f=filters, s=step: q.trends(user, f, s))
            assert sum(row["received"] for row in fast.rows) > 0
            assert sum(row["due"] for row in fast.rows) > 0
        fast_top = q.top_categories(user, filters, "district")
        assert fast_top and fast_top == from_cases(
            user, lambda f=filters: q.top_categories(user, f, "district")
        )


@pytest.mark.parametrize("username", ["city", "district"])
def test_recurring_spots_equal_a_count_by_hand_over_random_cases(
    small_city: dict[str, Area], cast: dict[str, User], catalogue: list[Category], username: str
) -> None:
    random_cases(small_city, catalogue[:2], 300, 11)  # two categories: places recur
    period = Period(dt.date(2025, 3, 1), dt.date(2025, 4, 1))
    times, days = 3, 7
    places: dict[tuple[int, int], list[Case]] = {}
    seen = Case.objects.filter(created_at__gte=period.start_at, created_at__lt=period.end_at)
    if username == "district":  # its district's cases, and one assigned to it elsewhere
        staff = Staff.objects.select_related("unit").get(user=cast["district"])
        elsewhere = seen.exclude(district=staff.unit.area).order_by("pk")
        elsewhere.filter(pk=elsewhere[0].pk).update(unit=staff.unit)
        seen = seen.filter(Q(district=staff.unit.area) | Q(unit=staff.unit))
    for case in seen:
        places.setdefault((case.cell_id, case.category_id), []).append(case)
    expected = {}
    for (cell, category), cases in places.items():
        moments = sorted(c.created_at for c in cases)
        most = max(
            sum(1 for earlier in moments[: i + 1] if moment - earlier <= dt.timedelta(days=days))
            for i, moment in enumerate(moments)
        )
        if most >= times:
            still_open = sum(c.state not in ("closed", "cancelled", "merged") for c in cases)
            code = Area.objects.get(pk=cell).code
            expected[(code, category)] = (len(cases), most, still_open)
    rows = q.recurring(cast[username], q.Filters(period=period), times, days)
    codes = {c.code: c.pk for c in catalogue}
    got = {
        (row["cell_code"], codes[row["category_code"]]): (
            row["cases"], row["most_in_days"], row["open"]
        )
        for row in rows
    }  # fmt: skip
    assert expected and got == expected
    assert [row["most_in_days"] for row in rows] == sorted(
        (row["most_in_days"] for row in rows), reverse=True
    )
