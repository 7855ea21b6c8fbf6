"""The fast paths of decision analysis give exactly the answers of the plain definitions
over the cases: recurring spots (the window over the busiest places first, then only over
places that can still make the list), hot spots (counted, cut and totalled in one
statement) and the counts per street or community (a district's scope as its own cases
plus those assigned to it elsewhere). Each is compared, on random cases, with the same
figure computed here in Python from incidents.access.visible_cases (the case list's
scope), at the edges of the period and for a district user, with short lists so that the
cut matters."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

import pytest
from django.contrib.auth.models import User

from analysis import queries as q
from dispatch.evaluation import Period
from incidents.access import visible_cases
from incidents.models import Case, State
from layers.models import Area, Category, Staff
from tests.cast import CELLS
from tests.test_analysis_daily import SH, catalogue, make_case, random_cases

__all__ = ["catalogue"]  # the fixture, used by name

PERIOD = Period(dt.date(2025, 3, 1), dt.date(2025, 4, 1))


def seen(user: User, filters: q.Filters) -> list[Case]:
    """The user's cases of the period, by the plain definition."""
    period = filters.period
    cases = visible_cases(user).filter(filters.q())
    return list(cases.filter(created_at__gte=period.start_at, created_at__lt=period.end_at))


def assign_one_elsewhere(user: User) -> None:
    """A case of another district assigned to the district user's unit: in its scope."""
    staff = Staff.objects.select_related("unit").get(user=user)
    elsewhere = Case.objects.exclude(district=staff.unit.area).order_by("pk")
    Case.objects.filter(pk=elsewhere[0].pk).update(unit=staff.unit)


def edges(city: dict[str, Area], category: Category) -> None:
    """One place with cases at the period's edges and exactly `days` (7) apart: the first
    at the period's first instant, one a moment before it (outside), one at its end
    (outside), and runs whose span includes both ends."""
    own = CELLS["own"]
    start = PERIOD.start_at
    for moment in (
        start - dt.timedelta(microseconds=1),
        start,
        start + dt.timedelta(days=7),  # exactly 7 days after the first: counted with it
        start + dt.timedelta(days=7, microseconds=1),  # the first is out of its span
        PERIOD.end_at - dt.timedelta(microseconds=1),
        PERIOD.end_at,
    ):
        make_case(city, own, category, created_at=moment, state=State.SIGNED)


def plain_recurring(
    user: User, filters: q.Filters, times: int, days: int, limit: int
) -> list[tuple[Any, ...]]:
    places: dict[tuple[int, int], list[dt.datetime]] = defaultdict(list)
    shown: dict[tuple[int, int], list[Case]] = defaultdict(list)
    for case in seen(user, filters):
        places[(case.cell_id, case.category_id)].append(case.created_at)
        shown[(case.cell_id, case.category_id)].append(case)
    span = dt.timedelta(days=days)
    found = []
    for (cell, category), moments in places.items():
        moments.sort()
        most = max(
            sum(1 for earlier in moments[: i + 1] if moment - earlier <= span)
            for i, moment in enumerate(moments)
        )
        if most >= times:
            found.append((most, len(moments), cell, category, moments[0], moments[-1]))
    found.sort(key=lambda r: (-r[0], -r[1], r[2], r[3]))
    codes = dict(Area.objects.values_list("pk", "code"))
    categories = {c.pk: c.code for c in Category.objects.all()}
    return [
        (
            codes[cell],
            categories[category],
            n,
            most,
            first.astimezone(SH).strftime("%Y-%m-%d %H:%M"),
            last.astimezone(SH).strftime("%Y-%m-%d %H:%M"),
            sum(c.state not in ("closed", "cancelled", "merged") for c in shown[(cell, category)]),
            round(sum(c.geom.x for c in shown[(cell, category)]) / n, 6),
            round(sum(c.geom.y for c in shown[(cell, category)]) / n, 6),
        )
        for most, n, cell, category, first, last in found[:limit]
    ]


@pytest.mark.parametrize("username", ["city", "district"])
@pytest.mark.parametrize("seed", [5, 6])
def test_recurring_spots_equal_the_window_over_every_place(
    small_city: dict[str, Area],
    cast: dict[str, User],
    catalogue: list[Category],
    monkeypatch: pytest.MonkeyPatch,
    username: str,
    seed: int,
) -> None:
    random_cases(small_city, catalogue[:3], 400, seed)
    edges(small_city, catalogue[0])
    user = cast[username]
    if username == "district":
        assign_one_elsewhere(user)
    checked = 0
    for limit in (1, 3, 8, 500):  # short lists: the bound prunes; 500: every place listed
        monkeypatch.setattr(q, "RECURRING_LIMIT", limit)
        for filters in (
            q.Filters(period=PERIOD),
            q.Filters(period=Period(dt.date(2025, 3, 8), dt.date(2025, 3, 20))),
            q.Filters(period=PERIOD, category=catalogue[1]),
        ):
            for times, days in ((2, 7), (3, 7), (4, 30), (2, 1)):
                expected = plain_recurring(user, filters, times, days, limit)
                got = [
                    (
                        row["cell_code"],
                        row["category_code"],
                        row["cases"],
                        row["most_in_days"],
                        row["first"],
                        row["last"],
                        row["open"],
                        row["lon"],
                        row["lat"],
                    )
                    for row in q.recurring(user, filters, times, days)
                ]
                assert got == expected, (limit, filters, times, days)
                checked += len(expected)
    assert checked > 100


def test_recurring_by_hand_at_the_edges_of_the_period(
    small_city: dict[str, Area], cast: dict[str, User], catalogue: list[Category]
) -> None:
    edges(small_city, catalogue[0])
    rows = q.recurring(cast["city"], q.Filters(period=PERIOD), 2, 7)
    # In the period: the first instant, +7 days, +7 days and 1 µs, the last instant.
    # Within 7 days (both ends): the first and +7 days; +7 days and +7 days 1 µs.
    assert [(r["cell_code"], r["cases"], r["most_in_days"]) for r in rows] == [(CELLS["own"], 4, 2)]
    assert rows[0]["first"] == "2025-03-01 00:00" and rows[0]["last"] == "2025-03-31 23:59"
    assert q.recurring(cast["city"], q.Filters(period=PERIOD), 3, 7) == []
    assert q.recurring(cast["city"], q.Filters(period=PERIOD), 3, 31)[0]["most_in_days"] == 4


@pytest.mark.parametrize("username", ["city", "district"])
def test_hotspots_equal_a_count_per_cell_of_the_users_cases(
    small_city: dict[str, Area],
    cast: dict[str, User],
    catalogue: list[Category],
    monkeypatch: pytest.MonkeyPatch,
    username: str,
) -> None:
    random_cases(small_city, catalogue[:4], 300, 21)
    edges(small_city, catalogue[0])
    user = cast[username]
    if username == "district":
        assign_one_elsewhere(user)
    codes = dict(Area.objects.values_list("pk", "code"))
    for limit in (3, 5000):
        monkeypatch.setattr(q, "HOTSPOT_LIMIT", limit)
        for filters in (
            q.Filters(period=PERIOD),
            q.Filters(period=Period(dt.date(2025, 3, 8), dt.date(2025, 3, 9)), major=None),
            q.Filters(period=PERIOD, category=catalogue[2]),
        ):
            counted = Counter(case.cell_id for case in seen(user, filters))
            busiest = sorted(counted.items(), key=lambda item: (-item[1], item[0]))[:limit]
            found = q.hotspots(user, filters)
            assert [(r["code"], r["cases"]) for r in found.rows] == [
                (codes[cell], n) for cell, n in busiest
            ]
            assert (found.cells, found.cases) == (len(counted), sum(counted.values()))
            assert all(r["lon"] is not None and r["name"] for r in found.rows)
    assert q.hotspots(user, q.Filters(period=Period(dt.date(2024, 1, 1), dt.date(2024, 2, 1)))) == (
        q.Hotspots(rows=[], cells=0, cases=0)
    )


@pytest.mark.parametrize("username", ["city", "district"])
def test_counts_per_area_equal_a_count_of_the_users_cases(
    small_city: dict[str, Area], cast: dict[str, User], catalogue: list[Category], username: str
) -> None:
    random_cases(small_city, catalogue[:4], 300, 31)
    edges(small_city, catalogue[0])
    user = cast[username]
    if username == "district":
        assign_one_elsewhere(user)
    for tier in ("district", "street", "community"):
        field = q.AREA_FIELD[tier] + "_id"
        for filters in (
            q.Filters(period=PERIOD),
            q.Filters(period=PERIOD, category=catalogue[1]),
        ):
            expected = Counter((getattr(c, field), c.category_id) for c in seen(user, filters))
            got: Counter[tuple[int, int]] = Counter()
            for area, category, n in q._area_counts(user, filters, tier):
                got[(area, category)] += n
            assert +got == expected and expected, (tier, filters)
