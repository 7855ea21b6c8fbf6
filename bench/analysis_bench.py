"""Benchmark: the decision analysis views at city scale (1,000,000 cases).

Loads, once, into its own database (gridmgmt_bench_analysis, from the project's
template): the demo city's grid, the demo users, and N cases (default 1,000,000) written
set-based in one INSERT … SELECT: reported over the last 400 days at the cells of the
city with a skewed choice (a few cells and categories get most cases, as in life), most
of the older ones closed (on time or late), some cancelled or merged, the recent ones
open in every deadline state; a dispatched case is in its street's unit, with one
dispatch event to it (the scope of a district reads the history). A second run finds
the data and reuses it.

Then, for each view of /api/analysis/ (docs/analysis.md) and each evaluation table
asked for (--views …,evaluation-street,evaluation-cell), for a month and for a year,
as the city user and as a district user, it requests the view through Django
(django.test.Client: routing, session, scope, serialisation) and prints p50/p95/max
beside the same-run baseline: the lean SQL of the same view (the statements the view
ran, captured from it), sent straight to PostgreSQL through psycopg.

    .venv/bin/python bench/analysis_bench.py [--n 1000000] [--repeat 10] [--load-only]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from gridmgmt import clock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = os.environ.get(
    "ANALYSIS_BENCH_DATABASE_URL",
    "postgres://gridmgmt:gridmgmt@127.0.0.1:5432/gridmgmt_bench_analysis",
)
VIEWS = ["hotspots", "trends", "categories", "recurring", "at-risk"]
# The evaluation tables (/api/evaluation/{by}/, JSON: the first page of the per-cell
# table), measured the same way with --views evaluation-street,evaluation-cell,….
EVALUATIONS = ["evaluation-street", "evaluation-cell", "evaluation-unit", "evaluation-inspector"]
# The lean SQL: the view's statements that read these tables (the cases, the daily
# counts, the evaluation's rollups; not the session's or user's).
LEAN_TABLES = ("incidents_case", "analysis_daily", "dispatch_evaluation")

# Columns of incidents_case the generator sets; every other NOT NULL column gets its
# model default (so a new field with a default does not break the bench).
CASE_SQL = """
WITH cells AS (
    SELECT (row_number() OVER (ORDER BY c.code)) - 1 AS i, c.id AS cell_id,
           m.id AS community_id, s.id AS street_id, d.id AS district_id,
           ST_PointOnSurface(c.geom) AS p, u.id AS unit_id
    FROM layers_area c
    JOIN layers_area m ON m.id = c.parent_id
    JOIN layers_area s ON s.id = m.parent_id
    JOIN layers_area d ON d.id = s.parent_id
    -- the unit a dispatched case is in: its street's (as the dispatch event's below)
    LEFT JOIN LATERAL (
        SELECT id FROM layers_unit WHERE area_id = s.id ORDER BY id LIMIT 1
    ) u ON true
    WHERE c.tier = 'cell' AND c.valid_to IS NULL
),
n AS (SELECT count(*) AS cells FROM cells),
categories AS (
    SELECT (row_number() OVER (ORDER BY id)) - 1 AS i, id, time_limit
    FROM layers_category WHERE kind = 'event' AND minor_code <> ''
),
k AS (SELECT count(*) AS categories FROM categories),
draws AS (
    SELECT g,
           -- skewed: power of a uniform draw, spread over the index by a multiplier
           (floor(n.cells * power(random(), 3))::bigint * 7919) %% n.cells AS cell_i,
           floor(k.categories * power(random(), 2))::bigint AS category_i,
           now() - random() * interval '400 days' AS created,
           random() AS fate, random() AS speed, random() AS limit_days
    FROM generate_series(1, %(n)s) AS g, n, k
),
cases AS (
    SELECT d.*, c.*, cat.id AS category_id,
           d.created + interval '1 hour' AS dispatched,
           d.created + interval '1 hour' + (1 + floor(d.limit_days * 10)) * interval '1 day' AS due,
           CASE
               WHEN d.fate < 0.05 THEN 'cancelled'
               WHEN d.fate < 0.08 THEN 'merged'
               WHEN d.created < now() - interval '20 days' OR d.fate < 0.5 THEN 'closed'
               WHEN d.fate < 0.7 THEN 'dispatched'
               WHEN d.fate < 0.85 THEN 'signed'
               ELSE 'handled'
           END AS state
    FROM draws d
    JOIN cells c ON c.i = d.cell_i
    JOIN categories cat ON cat.i = d.category_i
)
INSERT INTO incidents_case (
    source, channel, urgent, description, geom, datum, state, created_at, updated_at,
    filed_at, dispatched_at, due_at, closed_at, handled_at, limit_unit, warned, overdue,
    closed_on_time, category_id, cell_id, community_id, street_id, district_id, unit_id
    {extra_columns})
SELECT 'inspector', 'app', g %% 10 = 0, '巡查发现问题', p, 'wgs84', state, created, created,
       CASE WHEN state <> 'cancelled' THEN created END,
       CASE WHEN state NOT IN ('cancelled', 'merged') THEN dispatched END,
       CASE WHEN state NOT IN ('cancelled', 'merged') THEN due END,
       CASE WHEN state = 'closed' THEN dispatched + speed * 12 * interval '1 day' END,
       CASE WHEN state IN ('closed', 'handled')
            THEN dispatched + speed * 11 * interval '1 day' END,
       'calendar_days',
       state IN ('dispatched', 'signed') AND due < now() + interval '1 day',
       CASE WHEN state = 'closed' THEN dispatched + speed * 12 * interval '1 day' > due
            ELSE state IN ('dispatched', 'signed') AND due < now() END,
       CASE WHEN state = 'closed' THEN dispatched + speed * 12 * interval '1 day' <= due END,
       category_id, cell_id, community_id, street_id, district_id,
       CASE WHEN state NOT IN ('cancelled', 'merged') THEN unit_id END
       {extra_values}
FROM cases
"""

EVENT_SQL = """
INSERT INTO incidents_caseevent (case_id, at, action, from_state, to_state, unit_id
    {extra_columns})
SELECT c.id, c.dispatched_at, 'dispatch', 'filed', 'dispatched', u.id {extra_values}
FROM incidents_case c
LEFT JOIN LATERAL (
    SELECT id FROM layers_unit WHERE area_id = c.street_id ORDER BY id LIMIT 1
) u ON true
WHERE c.dispatched_at IS NOT NULL
"""


def setup_django() -> None:
    from bench.import_bench import setup_django as setup_bench

    setup_bench(BENCH_DB)
    import io

    from django.core.management import call_command

    call_command("create_demo_users", stdout=io.StringIO())


def _defaults(model: Any, given: set[str]) -> tuple[str, str, list[Any]]:
    """`, col, …` and `, %s, …` with the model defaults of the NOT NULL columns the
    generator does not set."""
    from django.db import connection

    columns, params = [], []
    for field in model._meta.concrete_fields:
        if field.column in given or field.null or field.primary_key:
            continue
        columns.append(field.column)
        params.append(field.get_db_prep_save(field.get_default(), connection))
    return (
        "".join(f", {c}" for c in columns),
        "".join(", %s" for _ in columns),
        params,
    )


def ensure_cases(n: int) -> None:
    from django.db import connection

    from incidents.models import Case, CaseEvent

    have = Case.objects.count()
    if have >= n:
        print(f"cases: {have} already there", flush=True)
        return
    case_given = {
        "source", "channel", "urgent", "description", "geom", "datum", "state",
        "created_at", "updated_at", "filed_at", "dispatched_at", "due_at", "closed_at",
        "handled_at", "limit_unit", "warned", "overdue", "closed_on_time", "category_id",
        "cell_id", "community_id", "street_id", "district_id", "unit_id",
    }  # fmt: skip
    event_given = {"case_id", "at", "action", "from_state", "to_state", "unit_id"}
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE incidents_case CASCADE")
        cursor.execute("SELECT setseed(0.42)")
        columns, values, params = _defaults(Case, case_given)
        sql = CASE_SQL.replace("{extra_columns}", columns).replace("{extra_values}", values)
        # the named %(n)s and the positional defaults: inline n (an int) instead
        cursor.execute(sql.replace("%(n)s", str(int(n))), params)
        print(f"cases: {n} written in {time.perf_counter() - start:.0f} s", flush=True)
        columns, values, params = _defaults(CaseEvent, event_given)
        cursor.execute(
            EVENT_SQL.replace("{extra_columns}", columns).replace("{extra_values}", values),
            params,
        )
        cursor.execute("ANALYZE incidents_case")
        cursor.execute("ANALYZE incidents_caseevent")
    print(f"cases and events ready in {time.perf_counter() - start:.0f} s", flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def backend_cpu_ms(pid: int) -> float:
    """CPU time (user + system) of a PostgreSQL backend so far, from /proc (its parallel
    workers not included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def measure(
    username: str, repeat: int, views: list[str]
) -> list[tuple[str, str, list[float], list[float]]]:
    import psycopg
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    db = settings.DATABASES["default"]
    direct = psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"],
        dbname=db["NAME"], autocommit=True, prepare_threshold=None,
    )  # fmt: skip
    client = Client()
    client.force_login(User.objects.get(username=username))
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    today = clock.localdate()
    windows = {
        "month": (today - dt.timedelta(days=30), today + dt.timedelta(days=1)),
        "year": (today - dt.timedelta(days=365), today + dt.timedelta(days=1)),
    }
    out = []
    for name, (first, end) in windows.items():
        for view in views:
            url = f"/api/analysis/{view}/?start={first}&end={end}"
            if view in EVALUATIONS:
                by = view.removeprefix("evaluation-")
                url = f"/api/evaluation/{by}/?start={first}&end={end}"
            if view == "trends" and name == "year":
                url += "&step=week"
            with CaptureQueriesContext(connection) as captured:
                response = client.get(url)  # warm: plans, pages
            assert response.status_code == 200, (url, response.content[:300])
            statements = [
                q["sql"]
                for q in captured.captured_queries
                if any(table in q["sql"] for table in LEAN_TABLES)
                and "django_session" not in q["sql"]
            ]
            view_ms: list[float] = []
            sql_ms: list[float] = []
            # CPU of the request: this process (Django) and its PostgreSQL backend,
            # robust to the machine's load (waiting for a core is not counted).
            python_cpu: list[float] = []
            pg_cpu: list[float] = []
            for _ in range(repeat):
                started, cpu, pg = time.perf_counter(), time.process_time(), backend_cpu_ms(backend)
                client.get(url)
                view_ms.append((time.perf_counter() - started) * 1000)
                python_cpu.append((time.process_time() - cpu) * 1000)
                pg_cpu.append(backend_cpu_ms(backend) - pg)
                started = time.perf_counter()
                for sql in statements:
                    direct.execute(sql).fetchall()  # type: ignore[arg-type]
                sql_ms.append((time.perf_counter() - started) * 1000)
            out.append((name, view, view_ms, sql_ms))
            print(
                f"{username:9} {name:5} {view:10} view p50 {statistics.median(view_ms):7.1f} "
                f"p95 {pct(view_ms, 0.95):7.1f} max {max(view_ms):7.1f} ms | lean SQL p50 "
                f"{statistics.median(sql_ms):7.1f} p95 {pct(sql_ms, 0.95):7.1f} ms | CPU p50 "
                f"Django {statistics.median(python_cpu):6.1f} PostgreSQL "
                f"{statistics.median(pg_cpu):6.1f} ms | load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    direct.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--load-only", action="store_true")
    parser.add_argument("--users", default="city,district")
    parser.add_argument("--views", default=",".join(VIEWS))
    args = parser.parse_args()
    setup_django()
    ensure_cases(args.n)
    if args.load_only:
        return
    gc.collect()
    gc.freeze()
    print(f"{os.cpu_count()} cores; views through Django beside their lean SQL", flush=True)
    for username in args.users.split(","):
        measure(username, args.repeat, args.views.split(","))


if __name__ == "__main__":
    main()
