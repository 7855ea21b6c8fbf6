"""Benchmark: patrol positions per second through the HTTP API, beside a bare COPY.

Starts the ASGI server (uvicorn, as `make run` does) on the bench database and drives
POST /api/patrol/positions/ from many keep-alive connections, as inspectors' phones on
duty would: batches of GCJ-02 fixes, each authenticated by its session, checked
(patrol.ingest: batch bounds, times, numbers, datum area), converted to WGS 84, given
its shift, written into the day's partition with ON CONFLICT (a resent batch is stored
once), the shift's last position updated, and the request audited.

Baseline in the same run: the rows the API stored, read back with COPY TO, the table
emptied, and the same rows loaded with a bare COPY FROM (no checks, no HTTP).

Runs in its own database (gridmgmt_bench_patrol, from the project's template) with the
demo city's grid; the positions it writes are removed at the start.

    .venv/bin/python bench/patrol_bench.py [--positions 200000] [--batch 500]
        [--connections 6] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

from gridmgmt import clock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = os.environ.get(
    "PATROL_BENCH_DATABASE_URL",
    "postgres://gridmgmt:gridmgmt@127.0.0.1:5432/gridmgmt_bench_patrol",
)
HOST, PORT = "127.0.0.1", int(os.environ.get("PATROL_BENCH_PORT", "8766"))
INSPECTORS = 40
CSRF = "b" * 32


def setup_django() -> None:
    from bench.import_bench import setup_django as setup_bench

    setup_bench(BENCH_DB)


def inspectors_on_duty(start: dt.datetime) -> list[tuple[str, list[tuple[float, float]]]]:
    """INSPECTORS inspectors on duty since `start`, each with a session and a few points
    (GCJ-02) in cells of their own."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    from layers.datum import Datum, from_wgs84
    from layers.models import Area, Role, Staff, Unit
    from patrol.models import Shift

    backend = next(
        path for path in settings.AUTHENTICATION_BACKENDS if hasattr(load_backend(path), "get_user")
    )
    cells = list(Area.objects.current().filter(tier="cell").order_by("code")[: INSPECTORS * 5])
    unit = Unit.objects.order_by("pk").first()
    if unit is None:  # the bench database has the grid only: one unit for the posts
        city = Area.objects.current().get(tier="city")
        unit = Unit.objects.create(name="巡查测试单位", tier="city", area=city)
    Shift.objects.all().delete()
    out = []
    for n in range(INSPECTORS):
        user, _ = User.objects.get_or_create(username=f"bench-patrol-{n}")
        staff, _ = Staff.objects.get_or_create(
            user=user, defaults={"role": Role.INSPECTOR, "unit": unit}
        )
        own = cells[n * 5 : (n + 1) * 5]
        staff.cells.set(own)
        Shift.objects.create(user=user, started_at=start)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = backend
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        points = []
        for cell in own:
            p = cell.geom.point_on_surface
            lon, lat = from_wgs84([p.x], [p.y], Datum.GCJ02)
            points.append((float(lon[0]), float(lat[0])))
        out.append((session.session_key or "", points))
    return out


def batches(
    inspectors: list[tuple[str, list[tuple[float, float]]]],
    total: int,
    size: int,
    start: dt.datetime,
    seed: int,
) -> list[tuple[str, bytes]]:
    """(session, body) of batches of `size` fixes, `total` in all, spread over the
    inspectors; each inspector's fixes 0.25 s apart from `start` (distinct times)."""
    rng = random.Random(seed)
    per_inspector = [0] * len(inspectors)
    out = []
    for b in range(total // size):
        who = b % len(inspectors)
        session, points = inspectors[who]
        lon, lat = rng.choice(points)
        fixes = []
        for _ in range(size):
            at = start + dt.timedelta(milliseconds=250 * per_inspector[who])
            per_inspector[who] += 1
            lon += rng.uniform(-2e-5, 2e-5)
            lat += rng.uniform(-2e-5, 2e-5)
            fixes.append(
                {
                    "at": at.isoformat(timespec="milliseconds"),
                    "lon": round(lon, 7), "lat": round(lat, 7),
                    "accuracy_m": round(rng.uniform(3, 20), 1),
                }
            )  # fmt: skip
        body = json.dumps({"datum": "gcj02", "positions": fixes}).encode()
        out.append((session, body))
    return out


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, session: str, body: bytes
) -> tuple[int, bytes]:
    head = "\r\n".join(
        [
            "POST /api/patrol/positions/ HTTP/1.1", f"Host: {HOST}:{PORT}",
            f"Cookie: sessionid={session}; csrftoken={CSRF}", f"X-CSRFToken: {CSRF}",
            "Content-Type: application/json", f"Content-Length: {len(body)}", "", "",
        ]
    ).encode()  # fmt: skip
    writer.write(head + body)
    await writer.drain()
    line = await reader.readline()
    if not line:
        raise ConnectionResetError("the server closed the connection")
    status = int(line.split()[1])
    length, chunked = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
        elif name.strip().lower() == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    if not chunked:
        return status, await reader.readexactly(length)
    body = b""
    while size := int((await reader.readline()).strip(), 16):
        body += await reader.readexactly(size + 2)
        body = body[:-2]
    await reader.readline()
    return status, body


async def drive(
    requests: list[tuple[str, bytes]], connections: int
) -> tuple[float, list[float], dict[int, int], int]:
    """Send the batches from `connections` keep-alive connections: wall seconds,
    latencies, a count of statuses, and the positions the server said it stored."""
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    stored = 0

    async def client() -> None:
        nonlocal stored
        reader, writer = await asyncio.open_connection(HOST, PORT)
        while not queue.empty():
            session, body = queue.get_nowait()
            start = time.perf_counter()
            try:
                status, answer = await _post(reader, writer, session, body)
            except ConnectionResetError:  # closed after an error answer: count, reconnect
                status, answer = 0, b""
                reader, writer = await asyncio.open_connection(HOST, PORT)
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                stored += json.loads(answer)["stored"]
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    return time.perf_counter() - start, latencies, statuses, stored


def bare_copy() -> tuple[int, float]:
    """The stored rows read back with COPY TO, the table emptied, the same rows written
    again with COPY FROM; returns (rows, seconds of the COPY FROM)."""
    from django.db import connection

    columns = "user_id, shift_id, at, geom, accuracy_m"
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY (SELECT {columns} FROM patrol_position) TO STDOUT") as copy:
            for chunk in copy:
                buffer.write(chunk)
        cursor.execute("TRUNCATE patrol_position")
        data = buffer.getvalue()
        start = time.perf_counter()
        with raw.copy(f"COPY patrol_position ({columns}) FROM STDIN") as copy:
            for offset in range(0, len(data), 1 << 20):
                copy.write(data[offset : offset + (1 << 20)])
        seconds = time.perf_counter() - start
        cursor.execute("SELECT count(*) FROM patrol_position")
        rows = cursor.fetchone()[0]
    return rows, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    # Fewer than one worker's pooled connections (DATABASE_POOL_SIZE): the server spreads
    # connections over its workers unevenly, a request may hold two pooled connections
    # (the async middleware's and the view's threads), and one that waits for the pool
    # longer than DATABASE_POOL_TIMEOUT is answered 503.
    parser.add_argument("--connections", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE patrol_position")
    # Fixes 0.25 s apart: the run's positions per inspector fit in the hours behind now.
    per_inspector = args.positions // INSPECTORS + 2 * args.batch
    span = dt.timedelta(milliseconds=250 * per_inspector)
    start = clock.now() - span - dt.timedelta(minutes=1)
    inspectors = inspectors_on_duty(start - dt.timedelta(minutes=1))
    warm = batches(inspectors, INSPECTORS * args.batch, args.batch, start, args.seed + 1)
    body_start = start + dt.timedelta(milliseconds=250 * args.batch * 2)
    work = batches(inspectors, args.positions, args.batch, body_start, args.seed)
    connection.close()  # the server processes use the database from here

    from bench.server import start_server

    server = start_server(BENCH_DB, HOST, PORT, args.workers)
    try:
        asyncio.run(drive(warm, args.connections))  # connections, caches, today's partition
        seconds, latencies, statuses, stored = asyncio.run(drive(work, args.connections))
    finally:
        server.terminate()
        server.wait(timeout=30)
    sent = len(work) * args.batch
    load = os.getloadavg()
    copied, copy_s = bare_copy()
    q = statistics.quantiles(latencies, n=100)
    print(
        f"\nserver: uvicorn, {args.workers} workers; client: {args.connections} keep-alive "
        f"connections; machine: {os.cpu_count()} cores, load average {load[0]:.1f} "
        f"(1 min) after the run"
    )
    print(f"statuses: {statuses}; positions sent {sent:,}, stored {stored:,}")
    print(f"\n{'path':<52} {'positions/s':>12} {'p50 ms':>7} {'p95 ms':>7}")
    print(
        f"{'POST /api/patrol/positions/ (batches of ' + str(args.batch) + ')':<52} "
        f"{stored / seconds:>12,.0f} {q[49] * 1000:>7.1f} {q[94] * 1000:>7.1f}"
    )
    print(f"{'baseline: bare COPY of the same rows':<52} {copied / copy_s:>12,.0f}")
    print(f"\nHTTP path at {stored / seconds / (copied / copy_s):.0%} of a bare COPY")


if __name__ == "__main__":
    main()
