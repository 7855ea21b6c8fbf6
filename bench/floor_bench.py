"""Benchmark: the request floor, a ladder of HTTP servers measured with wrk in one run.

Each rung is served by uvicorn with the same settings (`--workers`, no access log) and
loaded by wrk (Debian's `wrk`) at each of `--connections`; the server's CPU time per
request is read from /proc (utime + stime of the uvicorn process and its workers) before
and after, so that it holds however busy the machine is. The rungs:

1. bare ASGI app (bench/floor_apps.py): what uvicorn and wrk cost;
2. minimal Django view, no middleware, served by Django's ASGI handler (how Django runs
   under uvicorn by default) and by the project's HTTP serving (gridmgmt/wsgi_bridge.py);
3. gridmgmt's middleware with a view that touches no database, under both servings;
4. an authenticated GET of one catalogue row (/api/layers/categories/<id>/, a session
   cookie), under both servings;
5. the lean SQL bound of that GET (bench/floor_apps.py /lean/: its three statements on an
   async pooled connection, no framework);
6. with --a2wsgi: the no-DB view and the GET with a2wsgi's WSGIMiddleware (PyPI) as the
   bridge (bench/floor_a2wsgi.py);
7. with --before DIR (a checkout of an earlier commit, e.g. `git archive <commit> | tar
   -x -C DIR`): the authenticated GET as that code serves it, for a before/after
   comparison in the same run.

"asgi" is Django's ASGI handler (GRIDMGMT_HTTP_SERVING=asgi), "wsgi" what gridmgmt.asgi
serves by default. Targets (issue 18): the authenticated GET ≥ 500 req/s at 8-32
connections, and its CPU per request within 2x the minimal Django view's.

    .venv/bin/python bench/floor_bench.py [--seconds 8] [--connections 8,32] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = os.environ.get(
    "FLOOR_BENCH_DATABASE_URL", "postgres://gridmgmt:gridmgmt@127.0.0.1:5432/gridmgmt_bench_floor"
)
HOST, PORT = "127.0.0.1", int(os.environ.get("FLOOR_BENCH_PORT", "8793"))
TICK = os.sysconf("SC_CLK_TCK")
PROJECT = "gridmgmt.asgi:application"


@dataclass(frozen=True)
class Server:
    name: str
    app: str
    env: dict[str, str]
    ready: str = "/floor/plain/"
    checkout: Path | None = None


@dataclass(frozen=True)
class Rung:
    label: str
    server: Server
    path: str
    authenticated: bool = False


@dataclass(frozen=True)
class Result:
    rung: Rung
    connections: int
    requests: int
    rate: float
    p50: float
    p99: float
    cpu_ms: float
    errors: int
    load: str
    switches: float  # the server's context switches per request (its threads' sleeps)


def django_server(name: str, serving: str, *, minimal: bool) -> Server:
    env = {"DJANGO_SETTINGS_MODULE": "bench.floor_settings", "GRIDMGMT_HTTP_SERVING": serving}
    if minimal:
        env["FLOOR_MINIMAL"] = "1"
    return Server(name, PROJECT, env)


def setup() -> tuple[str, int, int, str]:
    """The bench database with a signed-in user: (session key, user id, category id,
    the statement that loads the user with their post)."""
    from bench.import_bench import setup_django

    setup_django(BENCH_DB)
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
    from django.contrib.auth.models import User
    from django.db import connection

    from gridmgmt.sessions import SessionStore
    from layers.auth import _statement
    from layers.models import Category

    backend = next(
        path for path in settings.AUTHENTICATION_BACKENDS if hasattr(load_backend(path), "get_user")
    )
    user, _ = User.objects.get_or_create(username="bench-floor")
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = backend
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    category = Category.objects.order_by("pk").first()
    assert category is not None
    statement = _statement()
    connection.close()
    return session.session_key or "", user.pk, category.pk, statement


def family(pid: int) -> list[int]:
    """Process `pid` and its descendants (the workers)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    members = {pid}
    for candidate in sorted(parents):  # children have higher pids than their parents here
        if parents[candidate] in members:
            members.add(candidate)
    return sorted(members)


def server_switches(pid: int) -> int:
    """Context switches so far, voluntary or not, of every thread of process `pid` and
    its workers: how often their threads slept (on a socket, a lock, the interpreter's
    lock) or were preempted."""
    total = 0
    for member in family(pid):
        try:
            for task in Path(f"/proc/{member}/task").iterdir():
                for line in (task / "status").read_text().splitlines():
                    if "ctxt_switches:" in line:
                        total += int(line.split()[1])
        except OSError:
            continue
    return total


def server_cpu(pid: int) -> float:
    """Seconds of CPU used so far by process `pid` and its descendants (the workers)."""
    total = 0.0
    for member in family(pid):
        try:
            stat = Path(f"/proc/{member}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str, connections: int, seconds: float, headers: list[str]
) -> tuple[int, float, float, float, int]:
    """(requests, req/s, p50 ms, p99 ms, non-2xx answers) of one wrk run."""
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds:g}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return requests, rate, p50, p99, int(errors.group(1)) if errors else 0


def measure(
    rungs: list[Rung], server: subprocess.Popen[bytes], args: argparse.Namespace, cookie: str
) -> list[Result]:
    results = []
    for rung in rungs:
        url = f"http://{HOST}:{PORT}{rung.path}"
        headers = [f"Cookie: sessionid={cookie}"] if rung.authenticated else []
        request = urllib.request.Request(url, headers=dict(h.split(": ", 1) for h in headers))
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            assert answer.status == 200, (rung.label, answer.status)
        for connections in args.connections:
            wrk(url, connections, 2, headers)  # warm-up: connections, caches, plans
            before, switched = server_cpu(server.pid), server_switches(server.pid)
            requests, rate, p50, p99, errors = wrk(url, connections, args.seconds, headers)
            cpu = server_cpu(server.pid) - before
            switches = (server_switches(server.pid) - switched) / requests
            load = Path("/proc/loadavg").read_text().split()[0]
            results.append(
                Result(rung, connections, requests, rate, p50, p99, cpu * 1000 / requests,
                       errors, load, switches)
            )  # fmt: skip
            print(f"  {rung.label} @{connections}: {rate:,.0f} req/s", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=lambda s: [int(c) for c in s.split(",")],
                        default=[8, 32])  # fmt: skip
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--before", type=Path, help="checkout of an earlier commit to measure")
    parser.add_argument("--a2wsgi", action="store_true",
                        help="also serve the GET through a2wsgi (pip install a2wsgi)")  # fmt: skip
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk (Debian)")
    session, user_id, category, statement = setup()

    from bench.server import start_server

    apps = Server(
        "apps", "bench.floor_apps:app",
        {"FLOOR_USER_SQL": statement, "FLOOR_USER_ID": str(user_id),
         "FLOOR_CATEGORY": str(category)},
        ready="/bare/",
    )  # fmt: skip
    row = f"/api/layers/categories/{category}/"
    ladder: list[tuple[Server, list[Rung]]] = [
        (apps, [Rung("bare ASGI app", apps, "/bare/")]),
    ]
    for serving in ("asgi", "wsgi"):
        minimal = django_server(f"minimal-{serving}", serving, minimal=True)
        project = django_server(f"project-{serving}", serving, minimal=False)
        ladder.append(
            (minimal, [Rung(f"minimal Django view ({serving})", minimal, "/floor/plain/")])
        )
        ladder.append((project, [
            Rung(f"gridmgmt middleware, no-DB view ({serving})", project, "/floor/plain/"),
            Rung(f"authenticated GET, one catalogue row ({serving})", project, row, True),
        ]))  # fmt: skip
    if args.before:
        before = Server("before", PROJECT, {"DJANGO_SETTINGS_MODULE": "bench.floor_settings"},
                        checkout=args.before.resolve())  # fmt: skip
        ladder.append((before, [Rung("authenticated GET, one row (before)", before, row, True)]))
    if args.a2wsgi:
        a2wsgi = Server("a2wsgi", "bench.floor_a2wsgi:app",
                        {"DJANGO_SETTINGS_MODULE": "bench.floor_settings"})  # fmt: skip
        ladder.append((a2wsgi, [
            Rung("gridmgmt middleware, no-DB view (a2wsgi)", a2wsgi, "/floor/plain/"),
            Rung("authenticated GET, one catalogue row (a2wsgi)", a2wsgi, row, True),
        ]))  # fmt: skip
    ladder.append((apps, [Rung("lean SQL bound of that GET", apps, "/lean/", True)]))
    # Hundreds of requests a second from one user: the rate limit is checked (its cost
    # is part of the floor) but not reached.
    os.environ["API_THROTTLE_USER"] = "100000000/min"

    results: list[Result] = []
    for server_def, rungs in ladder:
        server = start_server(BENCH_DB, HOST, PORT, args.workers, app=server_def.app,
                              ready=server_def.ready, env=server_def.env,
                              checkout=server_def.checkout)  # fmt: skip
        try:
            time.sleep(1)  # every worker up
            results += measure(rungs, server, args, session)
        finally:
            server.terminate()
            server.wait(timeout=30)
    report(results, args)


def report(results: list[Result], args: argparse.Namespace) -> None:
    print(f"\nuvicorn, {args.workers} workers; wrk -t2, {args.seconds:g} s per figure; "
          f"machine: {os.cpu_count()} cores")  # fmt: skip
    print(f"\n{'rung':<50} {'conn':>4} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'CPU ms/req':>10} {'switch/req':>10} {'non-2xx':>7} {'load':>5}")  # fmt: skip
    for r in results:
        print(f"{r.rung.label:<50} {r.connections:>4} {r.rate:>8,.0f} {r.p50:>7.2f} "
              f"{r.p99:>7.2f} {r.cpu_ms:>10.3f} {r.switches:>10.1f} {r.errors:>7} "
              f"{r.load:>5}")  # fmt: skip

    def of(label: str) -> list[Result]:
        return [r for r in results if r.rung.label == label]

    get = of("authenticated GET, one catalogue row (wsgi)")
    minimal = {r.connections: r for r in of("minimal Django view (asgi)")}
    minimal_bridge = {r.connections: r for r in of("minimal Django view (wsgi)")}
    print()
    for r in get:
        base, bridged = minimal[r.connections], minimal_bridge[r.connections]
        print(f"@{r.connections}: authenticated GET {r.rate:,.0f} req/s (target ≥ 500: "
              f"{'met' if r.rate >= 500 else 'NOT met'}); CPU {r.cpu_ms:.3f} ms = "
              f"{r.cpu_ms / base.cpu_ms:.2f}x the minimal Django view under Django's ASGI "
              f"handler (target ≤ 2x: {'met' if r.cpu_ms <= 2 * base.cpu_ms else 'NOT met'}), "
              f"{r.cpu_ms / bridged.cpu_ms:.2f}x the same view as gridmgmt serves it")  # fmt: skip
    failed = sum(r.errors for r in results)
    print(f"non-2xx answers in all runs: {failed}")


if __name__ == "__main__":
    main()
