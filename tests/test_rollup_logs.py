"""The rollups every new case shares rows of (dispatch 0013, analysis 0006), on real
PostgreSQL: two case writes in flight at once do not wait for each other, and what they
logged is in the rollups once folded, by a reader or by the SLA worker."""

from __future__ import annotations

import io
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, connections

from analysis.models import DailyCount
from dispatch.models import EvaluationDay, EvaluationDayTotal, EvaluationMonth
from layers.models import Area, Category
from tests.cast import CELLS
from tests.test_analysis_daily import catalogue, make_case, t  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)
LOGS = (
    "dispatch_evaluation_month_log",
    "dispatch_evaluation_day_log",
    "dispatch_evaluation_day_total_log",
    "analysis_daily_log",
)


def _logged() -> int:
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(f"SELECT count(*) FROM {log}" for log in LOGS))
        return sum(row[0] for row in cursor.fetchall())


def _copy_of(case_id: int, cell: Area) -> str:
    """An INSERT of a copy of case `case_id` in `cell` (the same day, district and
    category: the same city-wide and district rows of the rollups), with a client UUID of
    its own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = "
            "'incidents_case' AND column_name NOT IN ('id', 'client_uuid', 'cell_id') "
            "ORDER BY ordinal_position"
        )
        columns = ", ".join(row[0] for row in cursor.fetchall())
    return (
        f"INSERT INTO incidents_case ({columns}, client_uuid, cell_id) SELECT {columns}, "
        f"gen_random_uuid(), {cell.pk:d} FROM incidents_case WHERE id = {case_id:d}"
    )


def test_two_reports_in_flight_do_not_wait_for_each_other(
    small_city: dict[str, Area],
    catalogue: list[Category],  # noqa: F811
) -> None:
    first = make_case(small_city, CELLS["own"], catalogue[0], created_at=t(3, 3))
    default: Any = connections["default"]
    params = {**default.get_connection_params(), "autocommit": False}
    with psycopg.connect(**params) as a, psycopg.connect(**params) as b:
        a.execute(_copy_of(first.pk, small_city[CELLS["own"]]))  # in flight: not committed
        # Before the logs, this INSERT waited for `a` to commit: the day's rows for the
        # whole city and the district were shared. (Two reports in one cell still share
        # the per-cell tables' rows.)
        b.execute("SET LOCAL lock_timeout = '3s'")
        b.execute(_copy_of(first.pk, small_city[CELLS["street"]]))
        b.commit()
        a.commit()
    assert _logged() > 0
    assert not EvaluationDayTotal.objects.exists()  # nothing folded yet
    call_command("run_sla_worker", "--once", stdout=io.StringIO())
    assert _logged() == 0
    # The three cases, received on 3 March, in each rollup.
    received = {"kind": "r", "n__gt": 0}
    assert sum(r.n for r in EvaluationDayTotal.objects.filter(**received)) == 3
    assert sum(r.n for r in EvaluationDay.objects.filter(**received)) == 3
    assert sum(r.n for r in EvaluationMonth.objects.filter(**received)) == 3
    assert sum(r.received for r in DailyCount.objects.all()) == 3
