"""Benchmark: vector tile latency on the full-scale demo city.

Loads, once, into its own database (gridmgmt_bench_tiles, from the project's template):
the demo city's grid, components at scale 1.0 (3.67M), legal entities at scale 1.0
(3.42M), population at scale 0.1 (3.85M), all through the bulk import as
`load_demo_city` writes them, and BENCH_CASES cases at the points of random entities
(open ones in every deadline state, some closed). A second run finds the data and
reuses it.

Then, for a fixed set of tiles at zoom 10-17 over the busiest part of the city (the
densest street's centre, and its neighbours), it requests every layer's tile through
the Django view (django.test.Client: URL routing, session auth, the access functions,
the version token, the response) as the city user and as a street user, and prints
p50/p95/max latency and the largest tile beside the same-run baseline: the very SQL the
view ran (captured from it), sent straight to PostgreSQL through psycopg.

    .venv/bin/python bench/tile_bench.py [--repeat 5] [--load-only]
"""

from __future__ import annotations

import argparse
import gc
import io
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = os.environ.get(
    "TILES_BENCH_DATABASE_URL",
    "postgres://gridmgmt:gridmgmt@127.0.0.1:5432/gridmgmt_bench_tiles",
)
SCALES = {"components": 1.0, "entities": 1.0, "population": 0.1}
BENCH_CASES = 20_000
ZOOMS = range(10, 18)
LAYERS = ["areas", "cells", "components", "entities", "population", "cases"]


# --- set-up ---------------------------------------------------------------------------


def setup_django() -> None:
    from bench.import_bench import setup_django as setup_bench

    setup_bench(BENCH_DB)
    from django.core.management import call_command

    call_command("create_demo_users", stdout=io.StringIO())


def ensure_layers() -> None:
    """Each base layer at its SCALES volume, through the bulk import (fresh tables)."""
    from fixtures.demo import VOLUMES, _AddressPoints, _batches, _districts
    from layers.importing.cells import CellIndex
    from layers.importing.core import RejectReport, import_batches
    from layers.importing.specs import LAYERS as SPECS

    cells = CellIndex()
    districts = _districts(cells)
    points = _AddressPoints(cells, districts, 1)
    for layer, scale in SCALES.items():
        spec = SPECS[layer]
        counts = {d.code: round(VOLUMES[layer] * scale * d.share) for d in districts}
        have = spec.model._default_manager.count()
        if have == sum(counts.values()):
            print(f"{layer}: {have} already loaded", flush=True)
            continue
        print(f"loading {sum(counts.values())} {layer} through the bulk import …", flush=True)
        start = time.perf_counter()
        result = import_batches(
            spec,
            _batches(layer, counts, districts, points, 1),
            datum="wgs84",
            rename={c: c for c in spec.fields},
            dry_run=False,
            report=RejectReport(io.StringIO(), []),
        )
        print(f"  {result.summary()} in {time.perf_counter() - start:.1f} s", flush=True)


def ensure_cases() -> None:
    """BENCH_CASES cases at random entities' points, set-based: a quarter closed, the rest
    open and dispatched, on time, warned or overdue."""
    from django.db import connection

    from incidents.models import Case
    from layers.models import Category

    if Case.objects.count() >= BENCH_CASES:
        print(f"cases: {Case.objects.count()} already there", flush=True)
        return
    events = list(
        Category.objects.filter(kind="event").exclude(minor_code="").values_list("pk", flat=True)
    )
    listed = """source, channel, body_hash, urgent, description, attributes, geom, datum,
        address_text, media_url, component_code, caller_name, caller_phone, state,
        created_at, updated_at, dispatched_at, due_at, limit_unit, warned, overdue,
        escalation_level, suspended, extensions, reworks, category_id,
        cell_id, community_id, street_id, district_id"""
    # Columns added to the case since (NOT NULL, their default in Python only, or ''):
    # their defaults.
    named = {name.strip() for name in listed.split(",")}
    extra = [
        f for f in Case._meta.concrete_fields
        if not f.null and not f.primary_key and f.column not in named
        and f.get_default() is not None
    ]  # fmt: skip
    extra_columns = "".join(f", {f.column}" for f in extra)
    extra_values = "".join(", %s" for _ in extra)
    defaults = [f.get_db_prep_save(f.get_default(), connection) for f in extra]
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE incidents_case CASCADE")
        cursor.execute(
            f"""
            INSERT INTO incidents_case ({listed}{extra_columns})
            SELECT 'inspector', 'app', '', n %% 10 = 0, '巡查发现问题', '{{}}', geom, 'wgs84',
                '', '', '', '', '', CASE WHEN n %% 4 = 0 THEN 'closed' ELSE 'dispatched' END,
                now() - interval '1 day', now(), now() - interval '1 day',
                now() + (n %% 5 - 1) * interval '1 day', 'working_hours',
                n %% 5 < 2, n %% 5 = 0, 0, false, 0, 0,
                (%s::bigint[])[1 + n %% cardinality(%s::bigint[])],
                cell_id, community_id, street_id, district_id{extra_values}
            FROM (
                SELECT row_number() OVER () AS n, geom, cell_id, community_id, street_id,
                       district_id
                FROM layers_legalentity TABLESAMPLE SYSTEM (1)
                LIMIT %s
            ) picked
            """,
            [events, events, *defaults, BENCH_CASES],
        )
        cursor.execute("ANALYZE incidents_case")
    print(f"cases: {Case.objects.count()} written", flush=True)


# --- tiles ----------------------------------------------------------------------------


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ tile holding a WGS 84 point (slippy-map numbering)."""
    n = 2**z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def busiest_point(username: str) -> tuple[float, float, str]:
    """A point inside the street with the most components per km² that `username` may
    see (the city user: the whole city; the street user: their own street)."""
    from django.contrib.auth.models import User
    from django.db import connection

    from layers.access import visible_records
    from layers.models import Component

    mine = visible_records(User.objects.get(username=username), Component.objects.all())
    inner, params = mine.values("street_id").order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT ST_X(p), ST_Y(p), code FROM (
                SELECT ST_PointOnSurface(a.geom) AS p, a.code,
                       count(*) / ST_Area(a.geom::geography) AS density
                FROM ({inner}) c JOIN layers_area a ON a.id = c.street_id
                GROUP BY a.id ORDER BY density DESC LIMIT 1
            ) top
            """,
            params,
        )
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError("no components loaded")
    return float(row[0]), float(row[1]), str(row[2])


def tile_set(lon: float, lat: float) -> list[tuple[int, int, int]]:
    """At every zoom, the tile holding the point and its east and south neighbours."""
    tiles = []
    for z in ZOOMS:
        x, y = tile_of(lon, lat, z)
        tiles += [(z, x, y), (z, x + 1, y), (z, x, y + 1)]
    return tiles


# --- measuring ------------------------------------------------------------------------


@dataclass
class Figures:
    view_ms: list[float] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    by_zoom: dict[int, list[float]] = field(default_factory=dict)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def measure(username: str, tiles: list[tuple[int, int, int]], repeat: int) -> dict[str, Figures]:
    import psycopg
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from map_ui.tiles import tile_urls

    db = settings.DATABASES["default"]
    # Connected as Django connects: no prepared statements (Django turns psycopg's off,
    # for connection poolers), so each statement is planned as the server's is. With
    # psycopg's default, a statement run more than 5 times would run prepared and skip
    # its planning (0.3-1.4 ms), which no request of the server does.
    direct = psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], password=db["PASSWORD"],
        dbname=db["NAME"], autocommit=True, prepare_threshold=None,
    )  # fmt: skip
    client = Client()
    user = User.objects.get(username=username)
    client.force_login(user)
    templates = tile_urls(user)
    out: dict[str, Figures] = {}
    for layer in LAYERS:
        figures = out.setdefault(layer, Figures())
        for z, x, y in tiles:
            url = templates[layer].format(z=z, x=x, y=y)
            with CaptureQueriesContext(connection) as captured:
                client.get(url)  # warm: caches, plans, pages
            tile_sql = [q["sql"] for q in captured.captured_queries if "ST_AsMVT" in q["sql"]]
            for _ in range(repeat):
                start = time.perf_counter()
                response = client.get(url)
                figures.view_ms.append((time.perf_counter() - start) * 1000)
                figures.by_zoom.setdefault(z, []).append(figures.view_ms[-1])
                figures.sizes.append(len(response.content))
                for sql in tile_sql:  # the same statement, as the server sent it
                    start = time.perf_counter()
                    direct.execute(sql).fetchall()  # type: ignore[arg-type]
                    figures.sql_ms.append((time.perf_counter() - start) * 1000)
    direct.close()
    return out


def report(username: str, results: dict[str, Figures]) -> None:
    print(f"\n{username}: ms per tile through the view (p50 / p95 / max), direct SQL "
          "(p50 / p95), ratio of p95, largest tile")  # fmt: skip
    print(f"{'layer':<11} {'view p50':>9} {'p95':>7} {'max':>7} {'sql p50':>8} {'p95':>7}"
          f" {'ratio':>6} {'max KB':>7}")  # fmt: skip
    for layer, f in results.items():
        sql50 = statistics.median(f.sql_ms) if f.sql_ms else 0.0
        sql95 = pct(f.sql_ms, 0.95) if f.sql_ms else 0.0
        ratio = pct(f.view_ms, 0.95) / sql95 if sql95 else float("nan")
        print(
            f"{layer:<11} {statistics.median(f.view_ms):9.1f} {pct(f.view_ms, 0.95):7.1f} "
            f"{max(f.view_ms):7.1f} {sql50:8.1f} {sql95:7.1f} {ratio:6.2f} "
            f"{max(f.sizes) / 1024:7.1f}"
        )
    zooms = sorted({z for f in results.values() for z in f.by_zoom})
    line = "  ".join(
        f"z{z} {pct([v for f in results.values() for v in f.by_zoom.get(z, [])], 0.95):.0f}"
        for z in zooms
    )
    print(f"p95 by zoom, all layers: {line}")
    # The figure: p95 over the whole set of tiles (every layer and zoom), through
    # the view and as the direct SQL.
    view = [v for f in results.values() for v in f.view_ms]
    sql = [v for f in results.values() for v in f.sql_ms]
    print(f"all tiles: view p50 {statistics.median(view):.1f}  p95 {pct(view, 0.95):.1f}  "
          f"sql p50 {statistics.median(sql):.1f}  p95 {pct(sql, 0.95):.1f}  "
          f"ratio of p95 {pct(view, 0.95) / pct(sql, 0.95):.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--load-only", action="store_true")
    args = parser.parse_args()
    setup_django()
    ensure_layers()
    ensure_cases()
    if args.load_only:
        return
    # What set-up left in this process (the loaders' modules and data, far more than a
    # server holds) is kept out of the garbage collector: its full collections paused
    # single requests for 40-110 ms here.
    gc.collect()
    gc.freeze()
    from map_ui.tiles import counts

    start = time.perf_counter()
    counts.refresh()  # what the first low-zoom tile after a change would pay
    print(f"per-cell counts and labels refreshed in {time.perf_counter() - start:.1f} s")
    results: dict[str, Any] = {}
    for username in ["city", "street"]:
        lon, lat, street = busiest_point(username)
        tiles = tile_set(lon, lat)
        print(f"\n{username}: {len(tiles)} tiles per layer around {lon:.4f},{lat:.4f} "
              f"(street {street}), z {ZOOMS.start}-{ZOOMS.stop - 1}, {args.repeat} runs each",
              flush=True)  # fmt: skip
        results[username] = measure(username, tiles, args.repeat)
        report(username, results[username])


if __name__ == "__main__":
    main()
