"""The evaluation's monthly rollup (dispatch_evaluation_month, kept by triggers on the
cases) gives exactly the figures of one aggregate over the cases.

Random cases over five months of 2025 in the small city — period edges, suspended,
closed late and after the period, reopened, cancelled, merged, split children, moved to
another unit, deleted — written and changed through the ORM (single rows, bulk updates,
deletes), then for random periods (whole months, days at both ends, ending after now)
the figures by district, street, community and unit of each post that reads the rollup
are compared: the fast path (dispatch.evaluation.case_groups) against the plain
aggregate over the user's cases.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import io
import random
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection

from dispatch.evaluation import (
    AreaRow,
    Audience,
    By,
    Period,
    audience_of,
    case_groups,
    evaluate,
    fold_rollups,
    rollup_months,
)
from dispatch.models import EvaluationMonth
from incidents.models import Case, CaseEvent, Channel, Source, State
from layers.models import Area, Category, Staff, Tier, Unit, UnitKind
from tests.cast import CELLS, centre

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2025, 5, 17, 15, 30, tzinfo=SH)
KEYS = ("district_id", "street_id", "community_id", "unit_id")
# The posts whose figures read the rollup: the whole city, a department (its unit), a
# street and a district (its area; its cases elsewhere from the cases).
USERS = ("city", "department", "hotline", "leader", "street", "district")


def _moment(rng: random.Random) -> dt.datetime:
    """A moment between 2025-01-20 and 2025-06-10, often right at a month's edge."""
    if rng.random() < 0.2:
        month = rng.randint(2, 6)
        edge = dt.datetime(2025, month, 1, tzinfo=SH)
        return edge + rng.choice([dt.timedelta(0), -dt.timedelta(microseconds=1)])
    start = dt.datetime(2025, 1, 20, tzinfo=SH)
    return start + dt.timedelta(seconds=rng.randint(0, 141 * 86400))


def _case(rng: random.Random, small_city: dict[str, Area], units: list[Unit], **extra: Any) -> Case:
    cell = small_city[rng.choice(list(CELLS.values()))]
    created = _moment(rng)
    fields: dict[str, Any] = {
        "source": Source.INSPECTOR,
        "channel": Channel.APP,
        "category": Category.objects.exclude(minor_code="").order_by("pk").first(),
        "description": "随机案件",
        "geom": centre(cell),
        "datum": "wgs84",
        "cell": cell,
        "community": small_city[cell.code[:12]],
        "street": small_city[cell.code[:9]],
        "district": small_city[cell.code[:6]],
        "state": State.REPORTED,
        "created_at": created,
        "updated_at": created,
        "urgent": rng.random() < 0.3,
        "unit": rng.choice([*units, None]),
    }
    if rng.random() < 0.9:
        fields["filed_at"] = created + dt.timedelta(minutes=rng.randint(0, 180))
        fields["file_due_at"] = created + dt.timedelta(minutes=60)
    if "filed_at" in fields and rng.random() < 0.85:
        fields.update(
            state=State.SIGNED,
            dispatched_at=fields["filed_at"],
            due_at=rng.choice([_moment(rng), fields["filed_at"] + dt.timedelta(days=3)]),
            suspended=rng.random() < 0.1,
            reworks=rng.randint(0, 2),
            extensions=rng.randint(0, 1),
        )
        if rng.random() < 0.6:
            closed = rng.choice(
                [_moment(rng), fields["due_at"] + dt.timedelta(days=rng.randint(-2, 2))]
            )
            fields.update(
                state=State.CLOSED, closed_at=closed, closed_on_time=closed <= fields["due_at"]
            )
    fate = rng.random()
    if fate < 0.06:
        fields["state"] = State.CANCELLED
    elif fate < 0.1:
        fields["state"] = State.MERGED
    fields.update(extra)
    return Case.objects.create(**fields)


@pytest.fixture
def random_world(small_city: dict[str, Area], cast: dict[str, User]) -> list[Case]:
    call_command("loaddata", "catalogue", stdout=io.StringIO())
    rng = random.Random(17)
    units = [
        Staff.objects.get(user=cast["street"]).unit,
        Staff.objects.get(user=cast["department"]).unit,
        Unit.objects.get_or_create(
            name="越秀区第1街道办事处",
            defaults={"tier": Tier.STREET, "kind": UnitKind.TERRITORIAL,
                      "area": small_city["440104001"]},
        )[0],
    ]  # fmt: skip
    cases = [_case(rng, small_city, units) for _ in range(160)]
    # Split reports: children of a parent, counted only from 应结案数 on.
    for parent in rng.sample(cases, 8):
        cases.append(_case(rng, small_city, units, parent=parent))
    # Changes after the fact, one row at a time and in bulk.
    for case in rng.sample(cases, 25):  # reopened (重办): open again, no closing
        case.state, case.closed_at, case.closed_on_time = State.HANDLED, None, None
        case.save()
    for case in rng.sample(cases, 15):  # moved to another unit, resumed, extended
        case.unit = rng.choice(units)
        case.suspended = not case.suspended
        if case.due_at is not None:
            case.due_at += dt.timedelta(days=rng.randint(1, 20))
        case.save()
    picked = [case.pk for case in rng.sample(cases, 20)]
    Case.objects.filter(pk__in=picked).update(state=State.CANCELLED)
    gone = [case.pk for case in rng.sample(cases, 10) if case.parent_id is None]
    Case.objects.filter(parent_id__in=gone).delete()
    Case.objects.filter(pk__in=gone).delete()
    # Cases elsewhere of the district: supervised by its unit, or once assigned to it.
    district = Staff.objects.get(user=cast["district"]).unit
    left = list(Case.objects.exclude(district=district.area).order_by("pk"))
    supervised = [case.pk for case in rng.sample(left, 8)]
    Case.objects.filter(pk__in=supervised).update(supervising_unit=district)
    for case in rng.sample(left, 8):
        CaseEvent.objects.create(
            case=case, action="dispatch", at=case.created_at, to_state=case.state, unit=district
        )
    return list(Case.objects.all())


def _periods(rng: random.Random) -> list[Period]:
    periods = [
        Period(dt.date(2025, 2, 1), dt.date(2025, 5, 1)),  # whole months only
        Period(dt.date(2025, 1, 1), dt.date(2026, 1, 1)),  # ends after now
        Period(dt.date(2025, 3, 1), dt.date(2025, 4, 1)),
        Period(dt.date(2025, 1, 25), dt.date(2025, 5, 10)),  # days at both ends
        Period(dt.date(2025, 2, 14), dt.date(2025, 5, 31)),  # the month of now
    ]
    for _ in range(6):
        start = dt.date(2025, 1, 15) + dt.timedelta(days=rng.randint(0, 90))
        periods.append(Period(start, start + dt.timedelta(days=rng.randint(20, 150))))
    return periods


def test_the_rollup_holds_the_sums_of_the_cases(random_world: list[Case]) -> None:
    """The triggers kept the table equal to a rebuild from the cases (the migration's
    backfill): after inserts, single and bulk updates and deletes."""
    kept = _rollup_rows()
    migration = importlib.import_module("dispatch.migrations.0008_evaluation_rollup")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM dispatch_evaluation_month")
        cursor.execute(migration.BACKFILL)
    assert len(kept) > 50
    assert _rollup_rows() == kept


def _rollup_rows() -> set[tuple[Any, ...]]:
    fold_rollups()  # what the writes appended to the log (migration 0013)
    rows = EvaluationMonth.objects.filter(n__gt=0).values_list(
        "kind", "month", "closed_month", *KEYS, "urgent", "n", "late", "suspended", "closed",
        "on_time", "rework", "extensions",
    )  # fmt: skip
    return set(rows)


@pytest.mark.parametrize("username", USERS)
def test_the_fast_path_gives_the_figures_of_the_cases(
    random_world: list[Case], cast: dict[str, User], username: str
) -> None:
    rng = random.Random(username)
    audience = audience_of(cast[username])
    assert audience.placed is not None  # these users read the rollup
    plain = dataclasses.replace(audience, placed=None, elsewhere=None)
    used = extended = 0
    for period in _periods(rng):
        as_of = min(NOW, period.end_at)
        months = rollup_months(period, as_of)
        used += months is not None
        extended += months is not None and months.start < period.start
        for key in (*KEYS, "cell_id"):  # by cell: no rollup, but not the OR of a scope
            fast = case_groups(audience, key, period, as_of)
            assert fast == case_groups(plain, key, period, as_of), (period, key)
    assert used >= 8
    assert extended >= 1  # a first month read whole, its days before the period taken away


@pytest.mark.parametrize("username", ["street", "district"])
def test_an_areas_cases_elsewhere_are_counted(
    random_world: list[Case], cast: dict[str, User], username: str
) -> None:
    """A street or district also sees the cases assigned to or supervised by its unit
    outside its area: the world has some (the fast path's test counts them), and they
    are its visible cases outside the area."""
    audience = audience_of(cast[username])
    assert audience.placed is not None and audience.elsewhere is not None
    outside = audience.visible.exclude(audience.placed)
    assert set(audience.elsewhere) == set(outside)
    assert outside.count() >= 8


def test_it_counts_a_split_child_filed_but_not_due_in_no_row(
    random_world: list[Case], cast: dict[str, User]
) -> None:
    """A group with no figure is no row (a split child is received and filed as its
    parent; due in another period it counts nowhere in this one)."""
    child = next(case for case in random_world if case.parent_id is not None)
    audience = audience_of(cast["city"])
    assert isinstance(audience, Audience)
    march = Period(dt.date(2025, 3, 1), dt.date(2025, 4, 1))
    assert all(any(f.values()) for f in case_groups(audience, "unit_id", march, NOW).values())
    assert child.parent_id is not None


def test_hand_computed_month_with_edges(small_city: dict[str, Area], cast: dict[str, User]) -> None:
    """One street, a period of March 20 to May 10 as of May 17: April from the rollup,
    the edges from the cases, a closing of May 3 of a case due in April counted (before
    the period's end), one of May 12 not."""
    call_command("loaddata", "catalogue", stdout=io.StringIO())
    rng = random.Random(1)
    unit = Staff.objects.get(user=cast["street"]).unit

    def at(month: int, day: int) -> dt.datetime:
        return dt.datetime(2025, month, day, 10, tzinfo=SH)

    def due(created: dt.datetime, due_at: dt.datetime, **fields: Any) -> Case:
        own = CELLS["own"]
        values: dict[str, Any] = {
            "cell": small_city[own], "community": small_city[own[:12]],
            "street": small_city[own[:9]], "district": small_city[own[:6]],
            "state": State.SIGNED, "created_at": created, "filed_at": created,
            "file_due_at": created, "dispatched_at": created, "due_at": due_at,
            "closed_at": None, "closed_on_time": None, "suspended": False, "urgent": False,
            "unit": unit, "reworks": 0, "extensions": 0, "parent": None,
        }  # fmt: skip
        return _case(rng, small_city, [unit], **{**values, **fields})

    due(at(3, 25), at(4, 5), state=State.CLOSED, closed_at=at(4, 4), closed_on_time=True)
    due(at(4, 2), at(4, 20), state=State.CLOSED, closed_at=at(5, 3), closed_on_time=False)
    due(at(4, 10), at(4, 28), state=State.CLOSED, closed_at=at(5, 12), closed_on_time=False)
    due(at(4, 12), at(4, 15), suspended=True)
    due(at(5, 2), at(5, 8))  # open, overdue by May 10
    due(at(5, 2), at(5, 15))  # due after the period
    due(at(3, 1), at(3, 5), state=State.CANCELLED)
    period = Period(dt.date(2025, 3, 20), dt.date(2025, 5, 10))
    assert rollup_months(period, period.end_at) is not None
    result = evaluate(cast["street"], by=By.STREET, period=period, now=NOW)
    (street,) = [r for r in result.rows if isinstance(r, AreaRow) and r.code == "440106001"]
    assert (street.received, street.filed, street.filed_late) == (6, 6, 0)
    # due: Apr 5, Apr 20, Apr 28, Apr 15 (suspended), May 8
    assert (street.due, street.suspended) == (5, 1)
    assert (street.closed, street.closed_on_time, street.overdue) == (2, 1, 3)
