"""Benchmark: import and place N component points from a GeoPackage file.

Prints rows/s of `import_layer` (layers.importing) beside the same-run baseline a GIS
engineer would use today: ogr2ogr of the same file into a staging table, then one SQL
UPDATE … FROM cells WHERE ST_Covers(…); and the floor of a durable, indexed table: a
bare COPY of the same rows, committed, then the index builds (one by one, PostgreSQL's
parallel workers helping with the B-trees, as the import does; and in two sessions at
once, which was tried for the import and not kept). The fresh import runs on two files
of the same rows: one naming no unit the database knows (every unit name reported), and
one naming each row's district's units, as a city's own component data does. Runs in
its own database (gridmgmt_bench), created from the project's template and loaded with
the demo city's grid.

    .venv/bin/python bench/import_bench.py [--n 1000000] [--skip-baseline]
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://gridmgmt:gridmgmt@127.0.0.1:5432/gridmgmt_bench"
)


def ensure_database(url: str) -> None:
    import psycopg

    from gridmgmt.env import database_from_url

    db = database_from_url(url)
    admin = psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"],
        dbname="postgres",
        autocommit=True,
    )
    exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone()
    if not exists:
        template = os.environ.get("DATABASE_TEST_TEMPLATE", "gridmgmt_template")
        admin.execute(f'CREATE DATABASE "{db["NAME"]}" TEMPLATE "{template}"')
    admin.close()


def setup_django(url: str = BENCH_DB) -> None:
    """Django on the bench database `url` (made from the template if missing), migrated,
    with the catalogue and the demo city's grid."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridmgmt.settings")
    ensure_database(url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from layers.models import Area, Category

    if not Category.objects.exists():
        call_command("loaddata", "catalogue", verbosity=0)
    if not Area.objects.filter(tier="cell").exists():
        from fixtures.city import load_hierarchy

        print("loading the demo city's grid into the bench database …", flush=True)
        load_hierarchy(datetime.date(2024, 1, 1))


# A component's 主管/权属/养护 units in the file (specs.Reference): the same three texts
# on every row, which name no unit of the bench database (every one goes to the report
# of unknown units), or with `known_units` each row's district's own units, as a city's
# real component data names its owners (KNOWN_UNITS, made by ensure_units).
UNKNOWN_UNITS = ("城市管理和综合执法局", "区住房和建设局", "市政养护所")
KNOWN_UNITS = ("城市管理和综合执法局", "住房和建设局", "市政养护所")  # after the district's name


def ensure_units() -> None:
    """Each district's three units of KNOWN_UNITS, for the file with known units."""
    from layers.models import Area, Tier, Unit, UnitKind

    for district in Area.objects.filter(tier=Tier.DISTRICT, valid_to__isnull=True):
        for suffix in KNOWN_UNITS:
            Unit.objects.get_or_create(
                name=district.name + suffix,
                defaults={"tier": Tier.DISTRICT, "kind": UnitKind.DEPARTMENT, "area": district},
            )


def make_file(n: int, seed: int, *, known_units: bool = False) -> Path:
    """N component points inside the city, with valid codes, as a GeoPackage (cached);
    with `known_units` the rows name their district's units (ensure_units)."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import pyogrio
    import shapely

    from layers.importing.cells import CellIndex
    from layers.models import Category, CategoryKind

    name = f"components-{n}-{seed}{'-units' if known_units else ''}.gpkg"
    path = ROOT / "bench" / "data" / name
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cells = CellIndex()
    x0, y0, x1, y1 = shapely.total_bounds(cells.pieces)
    lon_parts, lat_parts, cell_parts = [], [], []
    have = 0
    while have < n:
        lon = rng.uniform(x0, x1, 2 * n)
        lat = rng.uniform(y0, y1, 2 * n)
        placed = cells.locate(lon, lat)
        inside = ~placed.outside
        lon_parts.append(lon[inside])
        lat_parts.append(lat[inside])
        cell_parts.append(placed.cell_index[inside])
        have += int(inside.sum())
    lon = np.concatenate(lon_parts)[:n]
    lat = np.concatenate(lat_parts)[:n]
    cell = np.concatenate(cell_parts)[:n]
    district = cells.district_code[cell]
    classes = [
        c.major_code + c.minor_code
        for c in Category.objects.filter(kind=CategoryKind.COMPONENT).exclude(minor_code="")
    ]
    cls = np.array(classes, dtype=object)[rng.integers(0, len(classes), n)]
    prefix = pd.Series(district.astype(str)) + pd.Series(cls.astype(str))
    serial = prefix.groupby(prefix).cumcount() + 1
    code = prefix + serial.map("{:06d}".format)
    if known_units:
        district_name = pd.Series(cells.district_name[cell].astype(str))
        units = [district_name + suffix for suffix in KNOWN_UNITS]
    else:
        units = [pd.Series([text] * n) for text in UNKNOWN_UNITS]
    frame = pd.DataFrame(
        {
            "code": code,
            "name": "部件",
            "competent_unit": units[0],
            "owner_unit": units[1],
            "maintainer_unit": units[2],
            "state": rng.choice(np.array(["normal", "damaged", "missing"]), n, p=[0.9, 0.08, 0.02]),
        }
    )
    tmp = path.with_suffix(".tmp.gpkg")
    pyogrio.write_dataframe(
        gpd.GeoDataFrame(frame, geometry=shapely.points(lon, lat), crs="EPSG:4326"),
        tmp,
        layer="components",
        driver="GPKG",
    )
    tmp.rename(path)
    return path


def run_baseline(path: Path) -> float:
    from django.db import connection

    from gridmgmt.env import database_from_url

    db = database_from_url(BENCH_DB)
    pg = (
        f"PG:host={db['HOST']} port={db['PORT'] or 5432} dbname={db['NAME']} "
        f"user={db['USER']} password={db['PASSWORD']}"
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS baseline_staging")
    start = time.perf_counter()
    subprocess.run(
        [
            "ogr2ogr",
            "-f",
            "PostgreSQL",
            pg,
            str(path),
            "-nln",
            "baseline_staging",
            "-lco",
            "GEOMETRY_NAME=geom",
            "-overwrite",
        ],
        check=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE baseline_staging ADD COLUMN cell_id bigint")
        cursor.execute(
            """
            UPDATE baseline_staging s SET cell_id = c.id
            FROM layers_area c
            WHERE c.tier = 'cell' AND c.valid_to IS NULL AND ST_Covers(c.geom, s.geom)
            """
        )
        placed = cursor.rowcount
    elapsed = time.perf_counter() - start
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE baseline_staging")
    print(f"  baseline placed {placed} rows", flush=True)
    return elapsed


def run_ours(path: Path) -> tuple[float, str]:
    from layers.importing.core import import_file

    start = time.perf_counter()
    result = import_file("components", path, report_path=path.with_suffix(".rejected.csv"))
    return time.perf_counter() - start, result.summary()


def build_in_sessions(statements: list[str], params: dict[str, object], sessions: int = 2) -> None:
    """The index builds in `sessions` connections at once, the GiST one first: tried for
    a first load (issue 18 item 7) and not kept, no faster here (docs/performance.md)."""
    import queue
    from concurrent.futures import ThreadPoolExecutor

    import psycopg

    kept = ("dbname", "user", "password", "host", "port")
    libpq = {key: params[key] for key in kept if params.get(key)}
    todo: queue.SimpleQueue[str] = queue.SimpleQueue()
    for statement in sorted(statements, key=lambda s: "USING gist" not in s):
        todo.put(statement)

    def session() -> None:
        with psycopg.connect(**libpq, autocommit=True) as conn:  # type: ignore[arg-type]
            while True:
                try:
                    conn.execute(todo.get_nowait())  # type: ignore[arg-type]
                except queue.Empty:
                    return

    with ThreadPoolExecutor(max_workers=sessions) as pool:
        for done in [pool.submit(session) for _ in range(sessions)]:
            done.result()


def run_floor() -> dict[str, float]:
    """The floor of a durable, indexed table, on the rows the import wrote: they are
    copied out (binary, in memory), then COPYed back into the emptied table with only its
    primary key (user triggers off: the bare write) and committed; then its indexes are
    built, one after the other in one session as the import does, and again (after the
    same COPY) in two sessions at once. Seconds of each step."""
    import io

    from django.db import connection, transaction

    from layers.importing.writer import drop_indexes
    from layers.models import Component

    table = Component._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
            "AND attname <> 'id'",
            [table],
        )
        columns = cursor.fetchone()[0]
    rows = io.BytesIO()
    raw = connection.connection
    with (
        raw.cursor() as cur,
        cur.copy(f"COPY (SELECT {columns} FROM {table}) TO STDOUT (FORMAT binary)") as copy,
    ):
        for data in copy:
            rows.write(data)
    figures: dict[str, float] = {}
    for mode in ("serial", "parallel"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {table}")
            statements = drop_indexes(cursor, table)
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            start = time.perf_counter()
            with (
                connection.connection.cursor() as cur,
                cur.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT binary)") as copy,
            ):
                view = rows.getbuffer()
                for at in range(0, len(view), 8 << 20):
                    copy.write(view[at : at + (8 << 20)])
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        figures["copy"] = min(figures.get("copy", 1e9), time.perf_counter() - start)
        start = time.perf_counter()
        if mode == "serial":
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        else:
            build_in_sessions(statements, connection.get_connection_params())
        figures[mode] = time.perf_counter() - start
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    from layers.models import Component

    path = make_file(args.n, args.seed)
    print(f"input: {path.name} ({path.stat().st_size / 1e6:.0f} MB, {args.n} points)", flush=True)
    ensure_units()
    known = make_file(args.n, args.seed, known_units=True)
    print(f"  and {known.name}: the same rows naming their district's units", flush=True)

    baseline = None if args.skip_baseline else run_baseline(path)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Component._meta.db_table}")
    fresh, summary = run_ours(path)
    print(f"  import_layer: {summary}", flush=True)
    again, summary_again = run_ours(path)
    print(f"  re-import:    {summary_again}", flush=True)
    floor = run_floor()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Component._meta.db_table}")
    fresh_known, summary_known = run_ours(known)
    print(f"  import_layer, units known: {summary_known}", flush=True)

    n = args.n
    print()
    print(f"{'route':<58} {'seconds':>8} {'rows/s':>10}")
    rows = [
        ("import_layer (fresh table)", fresh),
        ("import_layer (fresh table), the file naming known units", fresh_known),
        ("import_layer (re-import, no change)", again),
        ("floor: bare COPY + indexes one by one", floor["copy"] + floor["serial"]),
        ("floor: bare COPY + indexes in two sessions", floor["copy"] + floor["parallel"]),
    ]
    for label, seconds in rows:
        print(f"{label:<58} {seconds:>8.2f} {n / seconds:>10,.0f}")
    print(f"  (floor: COPY {floor['copy']:.2f} s, indexes one by one {floor['serial']:.2f} s, "
          f"in two sessions {floor['parallel']:.2f} s)")  # fmt: skip
    for label, seconds in (("", fresh), (", units known", fresh_known)):
        print(f"import_layer (fresh{label}) as a share of the floor's speed: "
              f"{(floor['copy'] + floor['serial']) / seconds:.2f}; target ≥ 140,000 rows/s: "
              f"{'met' if n / seconds >= 140_000 else 'NOT met'}")  # fmt: skip
    if baseline is not None:
        label = "baseline: ogr2ogr + UPDATE ST_Covers"
        print(f"{label:<58} {baseline:>8.2f} {n / baseline:>10,.0f}")
        print(f"speed-up over the same-run baseline: {baseline / fresh:.1f}x")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the benchmark process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
