"""Benchmark: inspector reports per second through the HTTP API, full path.

Starts the ASGI server (uvicorn, as `make run` does) on the bench database and drives
POST /api/cases/reports/ from many keep-alive connections, as inspectors' phones would:
each report is authenticated by its session, validated, converted from GCJ-02, placed
into its cell, checked against the inspector's cells and for likely duplicates, written
with its history entry and outbox event, routed by the rules (half of the reports are
of a class the demo rules file and dispatch at once, with their deadline), and rendered.

Prints reports/s and p50/p95/p99 latency beside two same-run baselines:
- the floor of the stack: an authenticated GET of one catalogue row through the same
  server, connections and client (what any API request costs before its own work);
- the same intake service called in-process, one at a time (no HTTP, no concurrency).

Runs in its own database (gridmgmt_bench_intake, from the project's template) with the
demo city's grid, units and routing rules; the cases it writes are removed at the start.

    .venv/bin/python bench/intake_bench.py [--reports 6000] [--connections 32] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = os.environ.get(
    "INTAKE_BENCH_DATABASE_URL",
    "postgres://gridmgmt:gridmgmt@127.0.0.1:5432/gridmgmt_bench_intake",
)
HOST, PORT = "127.0.0.1", int(os.environ.get("INTAKE_BENCH_PORT", "8765"))
INSPECTORS = 40
CELLS_EACH = 25
CSRF = "b" * 32  # a CSRF secret of the accepted form; sent as cookie and header


@dataclass(frozen=True)
class Inspector:
    username: str
    session: str
    points: list[tuple[float, float]]  # GCJ-02, as a phone map reports them


def setup_django() -> None:
    from bench.import_bench import setup_django as setup_bench

    setup_bench(BENCH_DB)
    from django.core.management import call_command

    call_command("create_demo_users", stdout=open(os.devnull, "w"))  # noqa: SIM115
    call_command("create_demo_routing", stdout=open(os.devnull, "w"))  # noqa: SIM115


def reset_cases() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        # TRUNCATE passes the history's append-only trigger (it guards UPDATE/DELETE).
        cursor.execute(
            "TRUNCATE incidents_casephoto, incidents_caseevent, incidents_outbox, "
            "dispatch_assignment, dispatch_extensionrequest, incidents_case CASCADE"
        )


def make_inspectors(seed: int) -> list[Inspector]:
    """INSPECTORS inspectors across the city, each with CELLS_EACH cells and a session."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    from layers.datum import Datum, from_wgs84
    from layers.models import Area, Role, Staff, Unit

    # The backend that signs users in and finds them again (get_user), as bench/faults
    # does: django-axes' backend comes first in AUTHENTICATION_BACKENDS, and only guards.
    backend = next(
        path for path in settings.AUTHENTICATION_BACKENDS if hasattr(load_backend(path), "get_user")
    )
    rng = random.Random(seed)
    cells = list(Area.objects.current().filter(tier="cell").order_by("code"))
    rng.shuffle(cells)
    unit = Unit.objects.get(name__endswith="12345热线中心")  # any unit: scope is the cells
    inspectors = []
    for n in range(INSPECTORS):
        user, _ = User.objects.get_or_create(username=f"bench-inspector-{n}")
        staff, _ = Staff.objects.get_or_create(
            user=user, defaults={"role": Role.INSPECTOR, "unit": unit}
        )
        own = cells[n * CELLS_EACH : (n + 1) * CELLS_EACH]
        staff.cells.set(own)
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
        inspectors.append(Inspector(user.username, session.session_key or "", points))
    return inspectors


def report_bodies(inspectors: list[Inspector], n: int, seed: int) -> list[tuple[int, bytes]]:
    """(inspector index, JSON body) for n reports: half of a class the rules dispatch at
    once (street order, 05), half waiting for a dispatcher (city appearance, 01)."""
    from layers.models import Category

    rng = random.Random(seed)
    auto = list(Category.objects.filter(kind="event", major_code="05").exclude(minor_code=""))
    waiting = list(Category.objects.filter(kind="event", major_code="01").exclude(minor_code=""))
    bodies = []
    for i in range(n):
        who = rng.randrange(len(inspectors))
        lon, lat = rng.choice(inspectors[who].points)
        category = rng.choice(auto if i % 2 else waiting)
        body = {
            "client_uuid": str(uuid.UUID(int=rng.getrandbits(128))),
            "category": category.pk,
            "description": f"巡查发现{category.name}，请尽快处置（第{i}号）",
            "lon": lon + rng.uniform(-1e-4, 1e-4),
            "lat": lat + rng.uniform(-1e-4, 1e-4),
            "datum": "gcj02",
            "accuracy_m": round(rng.uniform(3, 30), 1),
        }
        bodies.append((who, json.dumps(body, ensure_ascii=False).encode()))
    return bodies


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
) -> int:
    writer.write(head + body)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


def _head(method: str, path: str, session: str, length: int) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1", f"Host: {HOST}:{PORT}",
        f"Cookie: sessionid={session}; csrftoken={CSRF}", f"X-CSRFToken: {CSRF}",
        "Content-Type: application/json", f"Content-Length: {length}", "", "",
    ]  # fmt: skip
    return "\r\n".join(lines).encode()


async def drive(
    requests: list[tuple[str, str, str, bytes]], connections: int
) -> tuple[float, list[float], dict[int, int]]:
    """Send (method, path, session, body) from `connections` keep-alive connections;
    returns wall seconds, latencies and a count of status codes."""
    queue: asyncio.Queue[tuple[str, str, str, bytes]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def client() -> None:
        reader, writer = await asyncio.open_connection(HOST, PORT)
        while not queue.empty():
            method, path, session, body = queue.get_nowait()
            start = time.perf_counter()
            status = await _request(reader, writer, _head(method, path, session, len(body)), body)
            latencies.append(time.perf_counter() - start)
            statuses[status] = statuses.get(status, 0) + 1
        writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    return time.perf_counter() - start, latencies, statuses


def in_process(inspectors: list[Inspector], bodies: list[tuple[int, bytes]]) -> list[float]:
    """The intake path without HTTP: the services the view calls, one at a time."""
    from django.contrib.auth.models import User

    from dispatch.services import case_autodispatch
    from incidents.services import Location, Report, case_report
    from layers.datum import Datum

    users = {i.username: User.objects.get(username=i.username) for i in inspectors}
    latencies = []
    for who, raw in bodies:
        body = json.loads(raw)
        report = Report(
            client_uuid=uuid.UUID(body["client_uuid"]),
            category_id=body["category"],
            description=body["description"],
            location=Location(body["lon"], body["lat"], Datum.GCJ02, body["accuracy_m"]),
        )
        start = time.perf_counter()
        result = case_report(user=users[inspectors[who].username], report=report)
        case_autodispatch(case_id=result.case.pk)
        latencies.append(time.perf_counter() - start)
    return latencies


def summary(label: str, count: int, seconds: float, latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100)
    return (
        f"{label:<44} {count / seconds:>9,.0f} {q[49] * 1000:>7.1f} {q[94] * 1000:>7.1f} "
        f"{q[98] * 1000:>7.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=6000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    setup_django()
    from django.db import connection

    from incidents.models import Case
    from layers.models import Category

    reset_cases()
    inspectors = make_inspectors(args.seed)
    warm = report_bodies(inspectors, 300, args.seed + 1)
    bodies = report_bodies(inspectors, args.reports, args.seed)
    category = Category.objects.order_by("pk").first()
    assert category is not None
    connection.close()  # the server processes use the database from here

    from bench.server import start_server

    server = start_server(BENCH_DB, HOST, PORT, args.workers)
    try:
        post = [("POST", "/api/cases/reports/", inspectors[w].session, b) for w, b in warm]
        asyncio.run(drive(post, args.connections))  # warm-up: connections, caches, plans
        floor = [
            ("GET", f"/api/layers/categories/{category.pk}/", inspectors[i % INSPECTORS].session,
             b"") for i in range(args.reports)
        ]  # fmt: skip
        floor_s, floor_lat, floor_status = asyncio.run(drive(floor, args.connections))
        post = [("POST", "/api/cases/reports/", inspectors[w].session, b) for w, b in bodies]
        seconds, latencies, statuses = asyncio.run(drive(post, args.connections))
    finally:
        server.terminate()
        server.wait(timeout=30)
    sample = report_bodies(inspectors, 500, args.seed + 2)
    direct = in_process(inspectors, sample)

    created = Case.objects.count()
    dispatched = Case.objects.filter(state="dispatched").count()
    print(f"\nserver: uvicorn, {args.workers} workers; client: {args.connections} keep-alive "
          f"connections; machine: {os.cpu_count()} cores")  # fmt: skip
    print(f"statuses: reports {statuses}, floor {floor_status}")
    print(f"cases in the database: {created} ({dispatched} filed and dispatched at intake)")
    print(f"\n{'path':<44} {'req/s':>9} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    print(summary("POST /api/cases/reports/ (full intake)", len(bodies), seconds, latencies))
    print(summary("baseline: GET one catalogue row (floor)", len(floor), floor_s, floor_lat))
    print(summary("baseline: intake services in-process, serial", len(direct), sum(direct),
                  direct))  # fmt: skip
    ok = statuses.get(201, 0) == len(bodies)
    print(f"\nall {len(bodies)} reports accepted: {ok}")


if __name__ == "__main__":
    main()
