"""Benchmark: live-map fan-out. With 1,000 map clients connected over WebSocket to the ASGI
server (uvicorn, as `make run` serves) as the city command centre, an inspector reports
cases through the HTTP API; each report's event must reach every client.

Measures, for each delivery, the time from the event's `at` (taken inside the writing
transaction, just before it commits, on the same clock as the clients) to its arrival
at the client, and for each event the time until the last client had it. Runs the two
channel layers in the same run, each with a server of its own: channels_redis core
(lists in Redis) and pubsub (Redis PUBLISH); the default in settings is the faster.

The clients run in two processes (asyncio + websockets, 500 connections each), beside
the server, Redis and PostgreSQL on the same machine. Runs in its own database
(gridmgmt_bench_fanout, from the project's template, with the demo city's grid).

    .venv/bin/python bench/fanout_bench.py [--clients 1000] [--events 40] [--gap 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = os.environ.get(
    "FANOUT_BENCH_DATABASE_URL",
    "postgres://gridmgmt:gridmgmt@127.0.0.1:5432/gridmgmt_bench_fanout",
)
HOST = "127.0.0.1"
BASE_PORT = int(os.environ.get("FANOUT_BENCH_PORT", "8775"))
CSRF = "f" * 32  # a CSRF secret of the accepted form; sent as cookie and header
CLIENT_PROCESSES = 2


# --- the clients (child processes: no Django) --------------------------------------------


def client_process(pipe: Connection) -> None:
    asyncio.run(_clients(pipe))


async def _clients(pipe: Connection) -> None:
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    from map_ui.live.tokens import PROTOCOL, TOKEN_PREFIX

    url, origin, token, count = pipe.recv()
    latencies: list[tuple[int, float]] = []  # (seq, seconds from `at` to arrival)
    sockets = []

    async def listen(ws: object) -> None:
        async for raw in ws:  # type: ignore[attr-defined]
            arrived = time.time()
            message = json.loads(raw)
            if message["type"] == "event":
                at = datetime.fromisoformat(message["at"]).timestamp()
                latencies.append((message["seq"], arrived - at))

    async def one() -> None:
        ws = await connect(
            url,
            origin=origin,  # type: ignore[arg-type]
            subprotocols=[Subprotocol(PROTOCOL), Subprotocol(TOKEN_PREFIX + token)],
            open_timeout=60,
            compression="deflate",  # browsers offer it; the server decides
        )
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello", hello
        await ws.send(json.dumps({"type": "resume", "last_seq": None}))
        sockets.append(ws)
        asyncio.get_running_loop().create_task(listen(ws))

    start = time.perf_counter()
    for batch in range(0, count, 50):  # as pages open: not all in the same millisecond
        await asyncio.gather(*(one() for _ in range(min(50, count - batch))))
    pipe.send(("ready", len(sockets), time.perf_counter() - start))
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, pipe.recv)  # "collect"
    await asyncio.sleep(0)
    pipe.send(latencies)
    for ws in sockets:
        await ws.close()


# --- the server, the data and the changes -------------------------------------------------


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


def credentials() -> tuple[str, str, list[tuple[float, float]]]:
    """A token for the city user (every client), the inspector's session, and points
    in the inspector's cells (WGS 84)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    from map_ui.live.models import issue_token

    # The backend that finds users again (get_user): django-axes' comes first and only
    # guards sign-ins.
    backend = next(
        path for path in settings.AUTHENTICATION_BACKENDS if hasattr(load_backend(path), "get_user")
    )

    def signed_in(user: User) -> SessionStore:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = backend
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        return session

    city = User.objects.get(username="city")
    inspector = User.objects.get(username="inspector")
    session = signed_in(inspector)
    # A live token opens sockets only while the session it was issued to lives.
    city_session = signed_in(city).session_key or ""
    points = []
    for cell in inspector.staff.cells.all():
        p = cell.geom.point_on_surface
        points.append((p.x, p.y))
    token = issue_token(user_id=city.pk, session_key=city_session)
    return token, session.session_key or "", points


def start_server(port: int, layer: str, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": BENCH_DB,
        "LOG_LEVEL": "WARNING",
        "CHANNEL_LAYER": layer,
        "CHANNEL_LAYER_PREFIX": f"bench-fanout-{uuid.uuid4().hex[:8]}",
        "LIVE_RESUME_WAIT": "1",
    }
    command = [
        str(ROOT / ".venv" / "bin" / "uvicorn"), "gridmgmt.asgi:application",
        "--host", HOST, "--port", str(port), "--workers", str(args.workers),
        # As scripts/run.sh serves: per-message deflate off unless asked for.
        "--ws-per-message-deflate", "true" if args.deflate else "false",
        "--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "5",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/accounts/login/", timeout=2):
                return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise SystemExit("the server did not start within 60 s")


def post_report(port: int, session: str, point: tuple[float, float], n: int) -> None:
    from layers.models import Category

    category = Category.objects.filter(kind="event", major_code="01").exclude(minor_code="")[0]
    body = {
        "client_uuid": str(uuid.uuid4()),
        "category": category.pk,
        "description": f"巡查发现暴露垃圾（第{n}号）",
        "lon": point[0],
        "lat": point[1],
        "datum": "wgs84",
    }
    request = urllib.request.Request(
        f"http://{HOST}:{port}/api/cases/reports/",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Cookie": f"sessionid={session}; csrftoken={CSRF}",
            "X-CSRFToken": CSRF,
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        if response.status != 201:
            raise SystemExit(f"report refused: {response.status}")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run_layer(layer: str, port: int, args: argparse.Namespace) -> dict[str, float]:
    token, session, points = credentials()
    server = start_server(port, layer, args)
    context = multiprocessing.get_context("spawn")
    pipes, children = [], []
    try:
        url = f"ws://{HOST}:{port}/ws/live/"
        share = [args.clients // CLIENT_PROCESSES] * CLIENT_PROCESSES
        share[0] += args.clients - sum(share)
        for count in share:
            ours, theirs = context.Pipe()
            child = context.Process(target=client_process, args=(theirs,))
            child.start()
            ours.send((url, f"http://{HOST}:{port}", token, count))
            pipes.append(ours)
            children.append(child)
        ready = [pipe.recv() for pipe in pipes]
        connected = sum(r[1] for r in ready)
        connect_s = max(r[2] for r in ready)
        time.sleep(2)  # every client's resume answered, held events released
        for n in range(args.events):
            post_report(port, session, points[n % len(points)], n)
            time.sleep(args.gap)
        time.sleep(3)  # the last event's fan-out
        deliveries: list[tuple[int, float]] = []
        for pipe in pipes:
            pipe.send("collect")
            deliveries += pipe.recv()
    finally:
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    latencies = [latency for _, latency in deliveries]
    per_event: dict[int, float] = {}
    for seq, latency in deliveries:
        per_event[seq] = max(per_event.get(seq, 0.0), latency)
    expected = connected * args.events
    return {
        "connected": connected,
        "connect_s": connect_s,
        "delivered": len(latencies),
        "missing": expected - len(latencies),
        "events": len(per_event),
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies),
        "mean": statistics.fmean(latencies),
        "all_p50": percentile(list(per_event.values()), 0.50),
        "all_p99": percentile(list(per_event.values()), 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between changes")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--layers", default="core,pubsub")
    parser.add_argument(
        "--deflate", action="store_true",
        help="let the server compress messages (scripts/run.sh does not)",
    )  # fmt: skip
    args = parser.parse_args()
    setup_django()
    reset_cases()
    results = {}
    for n, layer in enumerate(args.layers.split(",")):
        print(f"{layer}: {args.clients} clients, {args.events} case changes …", flush=True)
        results[layer] = run_layer(layer, BASE_PORT + n, args)
    print()
    print(f"{args.clients} map clients, {args.events} reports {args.gap} s apart, "
          f"uvicorn workers: {args.workers}, per-message deflate: {args.deflate}; "
          "latency from the event's `at` to arrival")  # fmt: skip
    header = f"{'layer':8} {'connect s':>9} {'delivered':>10} {'missing':>7} "
    header += f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'all-p50':>8} {'all-p99':>8}"
    print(header)
    for layer, r in results.items():
        print(
            f"{layer:8} {r['connect_s']:9.1f} {r['delivered']:10.0f} {r['missing']:7.0f} "
            f"{r['p50'] * 1000:7.0f} {r['p99'] * 1000:7.0f} {r['max'] * 1000:7.0f} "
            f"{r['all_p50'] * 1000:8.0f} {r['all_p99'] * 1000:8.0f}"
        )
    if len(results) > 1:
        best = min(results, key=lambda layer: results[layer]["p99"])
        print(f"faster (p99 per delivery): {best}")


if __name__ == "__main__":
    main()
