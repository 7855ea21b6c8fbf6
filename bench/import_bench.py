"""Benchmark: import and place N component points from a GeoPackage file.

Prints rows/s of `import_layer` (layers.importing) beside the same-run baseline a GIS
engineer would use today: ogr2ogr of the same file into a staging table, then one SQL
UPDATE … FROM cells WHERE ST_Covers(…). Runs in its own database (gridmgmt_bench),
created from the project's template and loaded with the demo city's grid.

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


def make_file(n: int, seed: int) -> Path:
    """N component points inside the city, with valid codes, as a GeoPackage (cached)."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import pyogrio
    import shapely

    from layers.importing.cells import CellIndex
    from layers.models import Category, CategoryKind

    path = ROOT / "bench" / "data" / f"components-{n}-{seed}.gpkg"
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
    district = cells.district_code[np.concatenate(cell_parts)[:n]]
    classes = [
        c.major_code + c.minor_code
        for c in Category.objects.filter(kind=CategoryKind.COMPONENT).exclude(minor_code="")
    ]
    cls = np.array(classes, dtype=object)[rng.integers(0, len(classes), n)]
    prefix = pd.Series(district.astype(str)) + pd.Series(cls.astype(str))
    serial = prefix.groupby(prefix).cumcount() + 1
    code = prefix + serial.map("{:06d}".format)
    frame = pd.DataFrame(
        {
            "code": code,
            "name": "部件",
            "competent_unit": "城市管理和综合执法局",
            "owner_unit": "区住房和建设局",
            "maintainer_unit": "市政养护所",
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

    baseline = None if args.skip_baseline else run_baseline(path)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Component._meta.db_table}")
    fresh, summary = run_ours(path)
    print(f"  import_layer: {summary}", flush=True)
    again, summary_again = run_ours(path)
    print(f"  re-import:    {summary_again}", flush=True)

    n = args.n
    print()
    print(f"{'route':<40} {'seconds':>8} {'rows/s':>10}")
    print(f"{'import_layer (fresh table)':<40} {fresh:>8.2f} {n / fresh:>10,.0f}")
    print(f"{'import_layer (re-import, no change)':<40} {again:>8.2f} {n / again:>10,.0f}")
    if baseline is not None:
        print(
            f"{'baseline: ogr2ogr + UPDATE ST_Covers':<40} {baseline:>8.2f} {n / baseline:>10,.0f}"
        )
        print(f"speed-up over the same-run baseline: {baseline / fresh:.1f}x")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the benchmark process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
