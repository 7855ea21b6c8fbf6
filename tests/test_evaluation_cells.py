"""The per-cell table's page (dispatch.evaluation.cell_page: the page's cells found first,
only they aggregated, the count and the sums apart) is exactly the page of the table
computed whole (area_rows over every cell, the total summed from its rows).

The random cases of tests/test_evaluation_rollup.py, spread over every cell of the small
city, plus the odd ones: cases on an old version of a redrawn cell (same code, other
name), 12345 replies,
call-backs and 督办 (by hand and by the SLA worker), and a cell whose only figures are a
reply. For every post that has cell rows (the district's too), random periods (edges,
ending after now, no whole month) and page sizes: every page, the empty page after the
last, the count and the total. The month x cell table (dispatch_evaluation_cell, migration
0010) that gives the cells of the whole months, and the daily tables (migration 0011) that
give the cells of periods without one, the total and the page's whole months, equal a
rebuild from the cases.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import random
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from dispatch.evaluation import AreaRow, By, Period, evaluate, fold_rollups
from dispatch.models import (
    EvaluationCell,
    EvaluationCellDay,
    EvaluationCellMonth,
    EvaluationDay,
    EvaluationDayTotal,
)
from gridmgmt import clock
from incidents.models import Case, CaseEvent, Satisfaction, State
from layers.models import Area, Tier
from tests.test_evaluation_rollup import (  # noqa: F401 (random_world is a fixture)
    NOW,
    SH,
    _case,
    _periods,
    random_world,
)

USERS = ("city", "department", "hotline", "leader", "district", "street")
# The cell whose only figures are a reply (no case of it counts in the period).
REPLY_ONLY = "440104002002004"
# The cell whose only case is a split child received and filed in March, due in May:
# in no figure of March, so no row.
CHILD_ONLY = "440104002002003"
MARCH = Period(dt.date(2025, 3, 1), dt.date(2025, 4, 1))
# Periods without a whole month (their cells from the day x cell table): before now, and
# ending after now (the total's days from now's day on come from the cases).
NO_WHOLE_MONTH = [
    Period(dt.date(2025, 3, 10), dt.date(2025, 4, 5)),
    Period(dt.date(2025, 4, 17), dt.date(2025, 5, 18)),
    Period(dt.date(2025, 5, 2), dt.date(2025, 5, 30)),
]


def _placed(cell: Area) -> dict[str, Any]:
    """The placement of a case in `cell` (its community, street and district)."""
    community = cell.parent
    assert community is not None and community.parent is not None
    street = community.parent
    return {"cell": cell, "community": community, "street": street, "district": street.parent}


def _march(rng: random.Random) -> dict[str, Any]:
    """Received, filed, dispatched and due in March 2025."""
    created = dt.datetime(2025, 3, rng.randint(1, 20), 9, tzinfo=SH)
    return {
        "created_at": created, "filed_at": created, "file_due_at": created,
        "dispatched_at": created, "due_at": created + dt.timedelta(days=3),
        "state": State.SIGNED, "parent": None,
    }  # fmt: skip


def _event(case: Case, action: str, at: dt.datetime, **fields: Any) -> CaseEvent:
    return CaseEvent.objects.create(case=case, action=action, at=at, to_state=case.state, **fields)


@pytest.fixture
def cell_world(
    random_world: list[Case],  # noqa: F811 (the fixture imported above)
    small_city: dict[str, Area],
    cast: dict[str, User],
) -> list[Case]:
    rng = random.Random(5)
    units = list({case.unit for case in random_world if case.unit is not None})
    cells = [area for area in small_city.values() if area.tier == Tier.CELL]
    spread = [cell for cell in cells if cell.code not in (REPLY_ONLY, CHILD_ONLY)]
    cases = [_case(rng, small_city, units, **_placed(rng.choice(spread))) for _ in range(90)]
    # A redrawn cell: its old version keeps its cases; one row per code.
    current = small_city["440106002001002"]
    old = Area.objects.create(
        tier=Tier.CELL, code=current.code, name="旧网格", parent=current.parent,
        geom=current.geom, valid_from=dt.date(2020, 1, 1), valid_to=dt.date(2025, 1, 1),
    )  # fmt: skip
    cases += [_case(rng, small_city, units, **_placed(old), **_march(rng)) for _ in range(4)]
    cases += [_case(rng, small_city, units, **_placed(old)) for _ in range(6)]
    child = {**_march(rng), "due_at": dt.datetime(2025, 5, 20, tzinfo=SH), "parent": cases[0]}
    _case(rng, small_city, units, **_placed(small_city[CHILD_ONLY]), **child)
    # The reply-only cell: a case of 2024, replied to in March 2025.
    quiet = _case(rng, small_city, units, **_placed(small_city[REPLY_ONLY]))
    Case.objects.filter(pk=quiet.pk).update(
        created_at=dt.datetime(2024, 6, 1, tzinfo=SH), filed_at=None, due_at=None,
        dispatched_at=None, state=State.REPORTED,
    )  # fmt: skip
    _event(quiet, "reply", dt.datetime(2025, 3, 5, tzinfo=SH), data={"round": 1})
    # 12345 replies with their call-backs, 督办 by hand and by the SLA worker.
    everything = list(Case.objects.all())
    good = [choice.value for choice in Satisfaction]
    for case in rng.sample(everything, 40):
        at = dt.datetime(2025, 1, 20, tzinfo=SH) + dt.timedelta(hours=rng.randint(0, 3300))
        _event(case, "reply", at, data={"round": 1})
        if rng.random() < 0.7:
            done = {"done": True, "round": 1, "reached": rng.random() < 0.8}
            _event(case, "callback", at + dt.timedelta(days=rng.randint(0, 9)),
                   data={**done, "satisfaction": rng.choice(good)})  # fmt: skip
    for case in rng.sample(everything, 15):
        at = dt.datetime(2025, 1, 20, tzinfo=SH) + dt.timedelta(hours=rng.randint(0, 3300))
        by = cast["city"] if rng.random() < 0.6 else None
        _event(case, "supervise", at, actor=by)
    return list(Case.objects.all())


def _pages(user: User, period: Period, size: int) -> tuple[list[AreaRow], list[int], AreaRow]:
    """Every page of `size` rows and the empty one after: the rows in order, the counts
    and the total (the same on every page)."""
    rows: list[AreaRow] = []
    counts: list[int] = []
    totals = set()
    number = 1
    while True:
        first = (number - 1) * size
        result = evaluate(user, by=By.CELL, period=period, now=NOW, page=slice(first, first + size))
        counts.append(result.count)
        totals.add(result.total)
        rows += [row for row in result.rows if isinstance(row, AreaRow)]
        if not result.rows:
            break
        assert len(result.rows) == size or first + len(result.rows) == result.count
        number += 1
    assert number == max(1, -(-counts[0] // size)) + (1 if counts[0] else 0)
    (total,) = totals
    assert isinstance(total, AreaRow)
    return rows, counts, total


@pytest.mark.parametrize("username", USERS)
def test_the_pages_are_the_whole_tables(
    cell_world: list[Case], cast: dict[str, User], username: str
) -> None:
    rng = random.Random(username)
    user = cast[username]
    filled = 0
    for period in [MARCH, *NO_WHOLE_MONTH, *_periods(rng)]:
        whole = evaluate(user, by=By.CELL, period=period, now=NOW)
        size = rng.choice([1, 2, 3, 5, 7, 500])
        rows, counts, total = _pages(user, period, size)
        assert rows == whole.rows, (period, size)
        assert set(counts) == {len(whole.rows)} == {whole.count}
        assert total == whole.total, (period, size)
        filled += len(rows) > size
    assert filled >= 3  # several pages were compared


def test_the_cell_table_holds_the_cells_of_the_cases(cell_world: list[Case]) -> None:
    """The triggers kept the month x cell table equal to a rebuild from the cases (the
    migration's backfill): after the inserts, single and bulk updates and deletes of
    the random world."""
    kept = _cell_rows()
    migration = importlib.import_module("dispatch.migrations.0010_evaluation_cells")
    days = importlib.import_module("dispatch.migrations.0011_evaluation_days")
    total = importlib.import_module("dispatch.migrations.0012_evaluation_day_total")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM dispatch_evaluation_cell")
        cursor.execute(migration.BACKFILL)
        for table, backfill in {**days.BACKFILL, **total.BACKFILL}.items():
            cursor.execute(f"DELETE FROM {table}")
            cursor.execute(backfill)
    assert all(len(rows) > 50 for rows in kept)
    assert _cell_rows() == kept


def _cell_rows() -> tuple[set[tuple[Any, ...]], ...]:
    fold_rollups()  # what the writes appended to the logs (migration 0013)
    months = EvaluationCell.objects.filter(n__gt=0).values_list("month", "cell_id", "unit_id", "n")
    days = EvaluationCellDay.objects.filter(n__gt=0).values_list("day", "cell_id", "unit_id", "n")
    sums = ("n", "late", "suspended", "closed", "on_time", "rework", "extensions")
    figures = EvaluationDay.objects.filter(n__gt=0).values_list(
        "day", "kind", "closed_day", "unit_id", "urgent", *sums
    )
    cell_months = EvaluationCellMonth.objects.filter(n__gt=0).values_list(
        "month", "kind", "closed_month", "cell_id", "unit_id", "urgent", *sums
    )
    totals = EvaluationDayTotal.objects.filter(n__gt=0).values_list(
        "day", "kind", "closed_day", "urgent", *sums
    )
    return set(months), set(days), set(figures), set(cell_months), set(totals)


def test_the_whole_months_cells_come_from_the_cell_table(
    cell_world: list[Case], cast: dict[str, User]
) -> None:
    """March is a whole month: its cells with cases are read from the table (emptied,
    only the cells of 12345 replies are left); April 15 to June 10 reads May from it, the days
    beside it from the cases."""
    page = slice(0, 500)
    march = evaluate(cast["city"], by=By.CELL, period=MARCH, now=NOW, page=page)
    spring = Period(dt.date(2025, 4, 15), dt.date(2025, 6, 10))
    before = evaluate(cast["city"], by=By.CELL, period=spring, now=NOW, page=page)
    EvaluationCell.objects.filter(month=dt.date(2025, 5, 1)).delete()
    edges_only = evaluate(cast["city"], by=By.CELL, period=spring, now=NOW, page=page)
    EvaluationCell.objects.all().delete()
    replied = evaluate(cast["city"], by=By.CELL, period=MARCH, now=NOW, page=page)
    assert REPLY_ONLY in {row.code for row in replied.rows}  # type: ignore[union-attr]
    assert 0 < replied.count < march.count
    assert 0 < edges_only.count < before.count


def test_the_days_come_from_the_daily_tables(cell_world: list[Case], cast: dict[str, User]) -> None:
    """A period without a whole month reads its cells from the day x cell table (emptied,
    only the cells of 12345 replies are left), and the total of its days before now's
    day from the daily rollup, the city's from the one without the unit (emptied, only
    the days from now's day on and the 12345 figures are left); the page's whole months
    come from the month x cell rollup (emptied, only March's rows with 12345 figures are
    left, without case figures)."""
    page = slice(0, 500)
    march = evaluate(cast["city"], by=By.CELL, period=MARCH, now=NOW, page=page)
    EvaluationCellMonth.objects.all().delete()
    emptied = evaluate(cast["city"], by=By.CELL, period=MARCH, now=NOW, page=page)
    full = [row for row in march.rows if isinstance(row, AreaRow)]
    left = [row for row in emptied.rows if isinstance(row, AreaRow)]
    assert {row.code for row in left} < {row.code for row in full}
    assert sum(row.received for row in full) > 50
    assert {row.received for row in left} == {0}
    period = NO_WHOLE_MONTH[1]  # April 17 to May 17, now's day
    before = evaluate(cast["city"], by=By.CELL, period=period, now=NOW, page=page)
    department = evaluate(cast["department"], by=By.CELL, period=period, now=NOW, page=page)
    # The city's total: the daily rollup without the unit; a department's: with it.
    EvaluationDay.objects.all().delete()
    unit_days = evaluate(cast["city"], by=By.CELL, period=period, now=NOW, page=page)
    department_no_days = evaluate(cast["department"], by=By.CELL, period=period, now=NOW, page=page)
    EvaluationDayTotal.objects.all().delete()
    no_days = evaluate(cast["city"], by=By.CELL, period=period, now=NOW, page=page)
    EvaluationCellDay.objects.all().delete()
    no_cells = evaluate(cast["city"], by=By.CELL, period=period, now=NOW, page=page)
    today = Period(NOW.date(), period.end)
    cases_today = evaluate(cast["city"], by=By.CELL, period=today, now=NOW)
    department_today = evaluate(cast["department"], by=By.CELL, period=today, now=NOW)
    assert unit_days.total == before.total
    assert before.rows == no_days.rows  # the page's cells come from the cases
    assert _case_part(before.total) != _case_part(no_days.total)
    assert _case_part(no_days.total) == _case_part(cases_today.total)
    assert _case_part(department.total) != _case_part(department_no_days.total)
    assert _case_part(department_no_days.total) == _case_part(department_today.total)
    assert 0 < no_cells.count < before.count


def _case_part(total: Any) -> dict[str, int]:
    """The case figures of a total (not the 12345 ones, counted on the history)."""
    hotline = {"replies", "called_back", "reached", "satisfied", "reopened", "supervised"}
    figures = dataclasses.asdict(dataclasses.replace(total, name=""))
    return {name: value for name, value in figures.items() if name not in hotline}


def test_the_odd_cases_count(cell_world: list[Case], cast: dict[str, User]) -> None:
    """The old version's cases are in its code's row, named by the greatest name of the
    versions; the reply-only cell has a row; the total is the district table's."""
    table = evaluate(cast["city"], by=By.CELL, period=MARCH, now=NOW, page=slice(0, 500))
    rows = {row.code: row for row in table.rows if isinstance(row, AreaRow)}
    assert rows[REPLY_ONLY].replies == 1 and rows[REPLY_ONLY].received == 0
    assert CHILD_ONLY not in rows
    assert rows["440106002001002"].name == "旧网格"
    assert rows["440106002001002"].received >= 4
    districts = evaluate(cast["city"], by=By.DISTRICT, period=MARCH, now=NOW)
    assert dataclasses.replace(table.total, name="") == dataclasses.replace(
        districts.total, name=""
    )
    assert table.total.received == sum(row.received for row in rows.values())  # type: ignore[union-attr]


def test_the_api_serves_a_page_with_its_pager(
    cell_world: list[Case], cast: dict[str, User]
) -> None:
    client = Client()
    client.force_login(cast["city"])
    whole = evaluate(cast["city"], by=By.CELL, period=MARCH, now=NOW)
    codes = [row.code for row in whole.rows if isinstance(row, AreaRow)]
    assert len(codes) > 10
    query = {"start": "2025-03-01", "end": "2025-04-01", "page_size": "4"}
    with clock.travel(NOW):
        second = client.get("/api/evaluation/cell/", {**query, "page": "2"}).json()
        last = -(-len(codes) // 4)
        final = client.get("/api/evaluation/cell/", {**query, "page": str(last)}).json()
        beyond = client.get("/api/evaluation/cell/", {**query, "page": str(last + 1)}).json()
    assert [row["code"] for row in second["rows"]] == codes[4:8]
    assert second["count"] == len(codes)
    assert "page=3" in second["next"] and "page=1" in second["previous"]
    assert second["total"]["received"] == whole.total.received  # type: ignore[union-attr]
    assert [row["code"] for row in final["rows"]] == codes[(last - 1) * 4 :]
    assert final["next"] is None
    assert beyond["rows"] == [] and beyond["count"] == len(codes)
