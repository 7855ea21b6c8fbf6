"""Benchmark: inspector reports per second through the HTTP API, in a city's steady state.

Starts the ASGI server (uvicorn, as `make run` does) on the bench database and drives
POST /api/cases/reports/ with wrk (Debian's native load generator, a Lua script posting
prepared reports from many keep-alive connections, each with an inspector's session).
The city already holds open cases around every point the inspectors report from, so most
reports have likely duplicates nearby; half of the reports are of a class the demo rules
file and dispatch at once (one transaction with the intake); one in ten carries a small
photo (multipart). Each report is authenticated, validated, converted from GCJ-02, placed
into its cell, checked against the inspector's cells and for likely duplicates, written
with its history and outbox events, routed, rendered; its events are numbered after
commit (incidents.outbox.sequence).

Prints, for each path, req/s, p50/p95/p99 latency, the CPU ms per request of the server
(utime + stime of the uvicorn processes from /proc, which stays fair on a loaded machine),
of PostgreSQL (all its processes) and of the client (wrk, or the lean writer), the rate
the machine's cores allow at that total, and what the database's busy backends waited
for (a row lock, the sequencer's lock, I/O). The ladder, all in the same run:
- a bare ASGI app on uvicorn, and the minimal Django view (no middleware, Django's ASGI
  handler), loaded by the same wrk: what the server and the framework cost alone;
- the floor: an authenticated GET of one catalogue row, same server, client, connections;
- the full intake;
- the lean SQL bound: the same rows written in plain SQL (psycopg, prepared statements,
  one transaction per report plus the numbering after it) from as many connections, with
  the same placement and duplicate queries: what PostgreSQL needs, without Django; then
  on one connection with each statement timed, where that time goes.

Runs in its own database (gridmgmt_bench_intake, from the project's template) with the
demo city's grid, units and routing rules; the cases it writes are removed at the start.

    .venv/bin/python bench/intake_bench.py [--duration 20] [--connections 32] [--workers 2]

With INTAKE_BENCH_PROFILE=<file>, the in-process samples also write cProfile's stats (process
time) to <file>.<checkout's directory name>.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = os.environ.get(
    "INTAKE_BENCH_DATABASE_URL",
    "postgres://gridmgmt:gridmgmt@127.0.0.1:5432/gridmgmt_bench_intake",
)
HOST, PORT = "127.0.0.1", int(os.environ.get("INTAKE_BENCH_PORT", "8765"))
INSPECTORS = 40
CELLS_EACH = 25
CATEGORIES_EACH = 3  # of each class: dense enough that most reports have duplicates
OPEN_PER_POINT = 2  # open cases per point and category before the run
CSRF = "b" * 32  # a CSRF secret of the accepted form; sent as cookie and header
BOUNDARY = "----gridmgmtbench"
# A small JPEG-signed photo (the intake checks the signature and the size).
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 24
TICK = os.sysconf("SC_CLK_TCK")

LUA = r"""
local data = dofile(os.getenv("INTAKE_BENCH_DATA"))
local step = tonumber(os.getenv("INTAKE_BENCH_THREADS"))
local path = os.getenv("INTAKE_BENCH_PATH")
local method = os.getenv("INTAKE_BENCH_METHOD")
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  i = id
  n = #data
  statuses = {}
  empty = 0
end

function request()
  local r = data[(i % n) + 1]
  i = i + step
  local headers = {["Cookie"] = r[1], ["X-CSRFToken"] = "@CSRF@"}
  if r[2] ~= "" then headers["Content-Type"] = r[2] end
  return wrk.format(method, path, headers, r[3])
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if string.find(body, '"likely_duplicates":[]', 1, true) then empty = empty + 1 end
end

function done(summary, latency, requests)
  local counts, nodup = {}, 0
  for _, t in ipairs(threads) do
    for status, k in pairs(t:get("statuses")) do
      counts[tostring(status)] = (counts[tostring(status)] or 0) + k
    end
    nodup = nodup + t:get("empty")
  end
  local parts = {}
  for status, k in pairs(counts) do table.insert(parts, '"' .. status .. '":' .. k) end
  io.write(string.format(
    'RESULT {"requests":%d,"seconds":%f,"p50":%f,"p95":%f,"p99":%f,"no_duplicates":%d,'
    .. '"statuses":{%s}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(95) / 1e3, latency:percentile(99) / 1e3, nodup,
    table.concat(parts, ",")))
end
""".replace("@CSRF@", CSRF)


@dataclass(frozen=True)
class Inspector:
    username: str
    session: str
    points: list[tuple[float, float]]  # GCJ-02, as a phone map reports them
    wgs84: list[tuple[float, float]]


@dataclass(frozen=True)
class Phase:
    label: str
    requests: int
    seconds: float
    p50: float
    p95: float
    p99: float
    cpu_ms: float | None  # server CPU per request
    load: float
    detail: str = ""
    waits: str = ""  # what the bench database's busy backends waited for (Waits)
    db_ms: float | None = None  # PostgreSQL's CPU per request (all its processes)
    client_ms: float | None = None  # the load generator's CPU per request

    def line(self) -> str:
        cpu = " ".join(
            f"{v:>7.2f}" if v is not None else f"{'-':>7}"
            for v in (self.cpu_ms, self.db_ms, self.client_ms)
        )
        return (
            f"{self.label:<46} {self.requests / self.seconds:>8,.0f} {self.p50:>7.1f} "
            f"{self.p95:>7.1f} {self.p99:>7.1f} {cpu} {self.load:>6.2f}  {self.waits}"
        )


class Waits:
    """What the bench database's busy backends wait for during a phase: pg_stat_activity
    sampled every 0.1 s from a thread of its own. A row lock ("row": another transaction
    holds the row until it commits) or the sequencer's advisory lock ("seq") caps the
    writes however many cores there are; "io" is the WAL's flush; "run" is working."""

    KINDS = {("Lock", "transactionid"): "row", ("Lock", "tuple"): "row",
             ("Lock", "advisory"): "seq", ("IO", None): "io", ("LWLock", None): "lwlock",
             (None, None): "run"}  # fmt: skip

    def __enter__(self) -> Waits:
        import threading

        self.counts: dict[str, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        import psycopg

        with psycopg.connect(BENCH_DB, autocommit=True) as conn:
            while not self.stop.wait(0.1):
                for kind, event in conn.execute(
                    "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE "
                    "datname = current_database() AND state = 'active' "
                    "AND pid <> pg_backend_pid()"
                ):
                    name = self.KINDS.get((kind, event)) or self.KINDS.get((kind, None), "other")
                    self.counts[name] = self.counts.get(name, 0) + 1

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    @staticmethod
    def settle(timeout: float = 60.0) -> None:
        """Wait until no backend of the bench database is busy: the server may still be
        working off the previous phase's requests after wrk has gone (its threads hold
        the requests they had read), which would be measured as this phase's."""
        import psycopg

        deadline = time.monotonic() + timeout
        with psycopg.connect(BENCH_DB, autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state <> 'idle' AND pid <> pg_backend_pid()"
                ).fetchone()
                if row is not None and row[0] == 0:
                    return
                time.sleep(0.1)

    def summary(self) -> str:
        total = sum(self.counts.values()) or 1
        return " ".join(
            f"{name} {n * 100 // total}%"
            for name, n in sorted(self.counts.items(), key=lambda item: -item[1])
        )


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
        cursor.execute("UPDATE incidents_outboxcounter SET last_seq = 0")


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
        points, wgs84 = [], []
        for cell in own:
            p = cell.geom.point_on_surface
            lon, lat = from_wgs84([p.x], [p.y], Datum.GCJ02)
            points.append((float(lon[0]), float(lat[0])))
            wgs84.append((p.x, p.y))
        inspectors.append(Inspector(user.username, session.session_key or "", points, wgs84))
    return inspectors


def categories() -> tuple[list[int], list[int]]:
    """Subcategories the demo rules dispatch at once (街面秩序, 05) and that wait for a
    dispatcher (市容环境, 01)."""
    from layers.models import Category

    def of(major: str) -> list[int]:
        rows = Category.objects.filter(kind="event", major_code=major, active=True)
        ids = list(rows.exclude(minor_code="").order_by("minor_code").values_list("pk", flat=True))
        return ids[:CATEGORIES_EACH]

    return of("05"), of("01")


def seed_open_cases(inspectors: list[Inspector], category_ids: list[int], seed: int) -> int:
    """The steady state: OPEN_PER_POINT open cases per inspector's point and category,
    reported within the duplicate window, a few metres from the point."""
    from django.contrib.auth.models import User
    from django.contrib.gis.geos import Point

    from gridmgmt import clock
    from incidents.models import Case, Channel, Source, State
    from layers.models import Category
    from layers.placement import place_point

    rng = random.Random(seed)
    now = clock.now()
    cats = {c.pk: c for c in Category.objects.filter(pk__in=category_ids)}
    rows = []
    for inspector in inspectors:
        user = User.objects.get(username=inspector.username)
        for x, y in inspector.wgs84:
            placement = place_point(Point(x, y, srid=4326))
            for category_id in category_ids:
                for _ in range(OPEN_PER_POINT):
                    at = now - timedelta(hours=rng.uniform(1, 48))
                    rows.append(
                        Case(
                            source=Source.INSPECTOR,
                            channel=Channel.APP,
                            category=cats[category_id],
                            urgent=False,
                            description="此前上报，尚未办结",
                            state=State.REPORTED,
                            geom=Point(
                                x + rng.uniform(-5e-5, 5e-5),
                                y + rng.uniform(-5e-5, 5e-5),
                                srid=4326,
                            ),
                            datum="wgs84",
                            cell=placement.cell,
                            community=placement.community,
                            street=placement.street,
                            district=placement.district,
                            reporter=user,
                            created_at=at,
                            updated_at=at,
                        )
                    )
    Case.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def _multipart(fields: dict[str, object], photo: bytes) -> bytes:
    parts = []
    for name, value in fields.items():
        parts.append(
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; "
            f'name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="photos"; filename="site.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
        + photo
        + b"\r\n"
    )
    parts.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(parts)


def report_requests(
    inspectors: list[Inspector], auto: list[int], waiting: list[int], n: int, seed: int
) -> list[tuple[str, str, bytes]]:
    """(cookie, content type, body) for n reports: half of a class dispatched at once,
    half waiting for a dispatcher, one in ten with a photo."""
    rng = random.Random(seed)
    requests = []
    for i in range(n):
        who = inspectors[rng.randrange(len(inspectors))]
        lon, lat = rng.choice(who.points)
        fields: dict[str, object] = {
            "client_uuid": str(uuid.UUID(int=rng.getrandbits(128))),
            "category": rng.choice(auto if i % 2 else waiting),
            "description": f"巡查发现问题，请尽快处置（第{i}号）",
            "lon": lon + rng.uniform(-1e-4, 1e-4),
            "lat": lat + rng.uniform(-1e-4, 1e-4),
            "datum": "gcj02",
            "accuracy_m": round(rng.uniform(3, 30), 1),
        }
        cookie = f"sessionid={who.session}; csrftoken={CSRF}"
        if i % 10 == 3:
            body = _multipart(fields, PHOTO)
            requests.append((cookie, f"multipart/form-data; boundary={BOUNDARY}", body))
        else:
            body = json.dumps(fields, ensure_ascii=False).encode()
            requests.append((cookie, "application/json", body))
    return requests


def _lua_string(data: bytes) -> str:
    out = []
    for b in data:
        if 32 <= b < 127 and b not in (34, 92):
            out.append(chr(b))
        else:
            out.append(f"\\{b:03d}")
    return '"' + "".join(out) + '"'


def write_lua_data(requests: list[tuple[str, str, bytes]], path: Path) -> None:
    with path.open("w") as out:
        out.write("return {\n")
        for cookie, ctype, body in requests:
            out.write(
                f"{{{_lua_string(cookie.encode())},{_lua_string(ctype.encode())},"
                f"{_lua_string(body)}}},\n"
            )
        out.write("}\n")


def server_ticks(root: int) -> int:
    """utime + stime of the server process and its children (the uvicorn workers)."""
    pids = [root]
    try:
        children = Path(f"/proc/{root}/task/{root}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total


def database_ticks() -> int:
    """utime + stime of every PostgreSQL process of the machine, with what the postmaster
    reaped of its exited backends (cutime + cstime): the database's whole CPU, WAL writer
    and checkpointer included. On a machine that runs other work against the same server
    this counts that too."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if head.endswith("(postgres"):
            fields = tail.split()
            total += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return total


def children_ticks() -> float:
    """CPU seconds of this process's reaped children (wrk, once it has exited)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(
    label: str, requests: list[tuple[str, str, bytes]], method: str, path: str,
    args: argparse.Namespace, server_pid: int, workdir: Path, duration: float,
) -> tuple[Phase, dict[str, object]]:  # fmt: skip
    data = workdir / f"{label.split()[0].lower()}-{len(requests)}.lua"
    write_lua_data(requests, data)
    script = workdir / "intake.lua"
    script.write_text(LUA)
    env = {
        **os.environ, "INTAKE_BENCH_DATA": str(data), "INTAKE_BENCH_THREADS": str(args.threads),
        "INTAKE_BENCH_PATH": path, "INTAKE_BENCH_METHOD": method,
    }  # fmt: skip
    Waits.settle()
    before = server_ticks(server_pid)
    db_before, client_before = database_ticks(), children_ticks()
    with Waits() as waits:
        result = subprocess.run(
            ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{duration:g}s",
             "--timeout", "10s", "-s", str(script), f"http://{HOST}:{PORT}{path}"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
    ticks = server_ticks(server_pid) - before
    db_ticks, client_seconds = database_ticks() - db_before, children_ticks() - client_before
    load = os.getloadavg()[0]
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))
    figures = json.loads(line.removeprefix("RESULT "))
    n = int(figures["requests"])
    statuses = {str(k): int(v) for k, v in figures["statuses"].items()}
    ok = sum(v for k, v in statuses.items() if k.startswith("2"))
    phase = Phase(
        label, ok, float(figures["seconds"]), figures["p50"], figures["p95"], figures["p99"],
        ticks * 1000 / TICK / max(ok, 1), load, f"{statuses}", waits.summary(),
        db_ticks * 1000 / TICK / max(ok, 1), client_seconds * 1000 / max(ok, 1),
    )  # fmt: skip
    if ok != n:
        print(f"{label}: {n - ok} of {n} requests failed ({statuses}); figures count 2xx only")
    return phase, figures


# --- CPU per report in one process (robust to a loaded machine) -------------------------

CPU_SCRIPT = r"""
import json, os, pickle, sys, time
root, data = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
import django
django.setup()
from django.db import connection
from django.test import Client
requests = pickle.load(open(data, "rb"))
count = [0]
def counted(execute, sql, params, many, context):
    count[0] += 1
    return execute(sql, params, many, context)
client = Client()
def post(batch):
    for cookie, ctype, body in batch:
        client.cookies["sessionid"] = cookie.split(";")[0].split("=", 1)[1]
        response = client.generic("POST", "/api/cases/reports/", body, content_type=ctype)
        assert response.status_code == 201, (response.status_code, response.content[:200])
post(requests[:50])  # warm: caches, plans
profile = os.environ.get("INTAKE_BENCH_PROFILE")  # a file for cProfile's stats
if profile:
    import cProfile
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
start = time.process_time()
with connection.execute_wrapper(counted):  # (connection.queries keeps only 9,000)
    post(requests[50:])
cpu = time.process_time() - start
if profile:
    profiler.disable()
    profiler.dump_stats(f"{profile}.{os.path.basename(root)}")
n = len(requests) - 50
print("CPU " + json.dumps({"cpu_ms": cpu * 1000 / n, "queries": count[0] / n}))
"""


def cpu_per_report(root: Path, requests: list[tuple[str, str, bytes]], workdir: Path) -> str:
    """The whole request path (middleware, view, services; no HTTP server) run one
    report at a time in a fresh process of the checkout `root`: Python CPU ms (process
    time, which other load does not inflate) and queries per report."""
    import pickle

    data = workdir / f"cpu-{root.name}.pickle"
    data.write_bytes(pickle.dumps(requests))
    env = {**os.environ, "DATABASE_URL": BENCH_DB, "DJANGO_SETTINGS_MODULE": "gridmgmt.settings",
           "LOG_LEVEL": "ERROR"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", CPU_SCRIPT, str(root), str(data)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in result.stdout.splitlines() if x.startswith("CPU "))
    figures = json.loads(line.removeprefix("CPU "))
    return f"{figures['cpu_ms']:.1f} ms CPU, {figures['queries']:.1f} queries"


# --- the lean SQL bound -------------------------------------------------------------------


def lean_plan(auto: list[int]) -> dict[str, object]:
    """What the lean writer copies: the columns of each table it writes, from the rows
    the server just wrote (a dispatched report, its events, assignment and photo)."""
    from django.db import connection

    from incidents.models import Case, CasePhoto

    def columns(table: str) -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                "AND column_name <> 'id' ORDER BY ordinal_position",
                [table],
            )
            return [r[0] for r in cursor.fetchall()]

    dispatched = Case.objects.filter(state="dispatched", category_id__in=auto).latest("pk")
    photo = CasePhoto.objects.latest("pk")
    return {
        "case": dispatched.pk,
        "photo": photo.pk,
        "case_columns": columns("incidents_case"),
        "event_columns": columns("incidents_caseevent"),
        "outbox_columns": columns("incidents_outbox"),
        "assignment_columns": columns("dispatch_assignment"),
        "photo_columns": columns("incidents_casephoto"),
    }


def _copy(table: str, cols: list[str], changed: dict[str, str], where: str) -> str:
    """INSERT a copy of a template row with some columns changed (SQL expressions)."""
    select = ", ".join(changed.get(c, c) for c in cols)
    return f"INSERT INTO {table} ({', '.join(cols)}) SELECT {select} FROM {table} WHERE {where}"


async def lean_bound(
    plan: dict[str, object], reports: list[dict[str, object]], connections: int, duration: float,
    timings: dict[str, list[float]] | None = None,
) -> Phase:  # fmt: skip
    """The intake's writes in plain SQL: placement, the duplicate check, the case, its
    event and outbox row (and for auto-dispatch: the case updated, two more events and
    outbox rows, the assignment; one in ten: a photo row and its file), one transaction;
    then the numbering of the events (the sequencer's passes, as after a writer's commit).
    With `timings`, each statement's round trip is added to its kind's list (run it on one
    connection: then that is the database's time for it, and where the bound's time goes)."""
    import psycopg

    from incidents.outbox import _NUMBER, _UNNUMBERED, SEQUENCE_ROUNDS, SEQUENCER_LOCK

    case_cols = list(plan["case_columns"])  # type: ignore[call-overload]
    event_cols = list(plan["event_columns"])  # type: ignore[call-overload]
    outbox_cols = list(plan["outbox_columns"])  # type: ignore[call-overload]
    assignment_cols = list(plan["assignment_columns"])  # type: ignore[call-overload]
    photo_cols = list(plan["photo_columns"])  # type: ignore[call-overload]
    tpl = plan["case"]
    point = "ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), 4326)"
    place_sql = (
        "SELECT a.id FROM layers_areapiece p JOIN layers_area a ON a.id = p.area_id "
        f"WHERE a.tier = 'cell' AND ST_Covers(p.geom, {point}) LIMIT 1"
    )
    duplicates_sql = (
        "SELECT id, state, category_id, geom, created_at, description, "
        f"ST_Distance(geom::geography, {point}::geography) AS d FROM incidents_case "
        "WHERE category_id = %(category)s AND created_at >= now() - interval '72 hours' "
        "AND state NOT IN ('closed', 'cancelled', 'merged') "
        f"AND ST_DWithin(geom::geography, {point}::geography, 50) ORDER BY d LIMIT 5"
    )
    case_sql = _copy(
        "incidents_case", case_cols,
        {"geom": point, "cell_id": "%(cell)s", "category_id": "%(category)s",
         "client_uuid": "%(uuid)s",
         "description": "%(description)s", "state": "'reported'", "created_at": "now()",
         "updated_at": "now()", "unit_id": "NULL", "filed_at": "NULL",
         "dispatched_at": "NULL"},
        f"id = {tpl}",
    ) + " RETURNING id"  # fmt: skip
    event_sql = _copy(
        "incidents_caseevent", event_cols, {"case_id": "%(case)s", "at": "now()",
                                            "action": "%(action)s"},
        f"id = (SELECT min(id) FROM incidents_caseevent WHERE case_id = {tpl})",
    )  # fmt: skip
    outbox_sql = _copy(
        "incidents_outbox",
        outbox_cols,
        {"case_id": "%(case)s", "at": "now()", "seq": "NULL", "kind": "%(action)s"},
        f"id = (SELECT min(id) FROM incidents_outbox WHERE case_id = {tpl})",
    )
    update_sql = (
        "UPDATE incidents_case c SET state = t.state, unit_id = t.unit_id, filed_at = now(), "
        "dispatched_at = now(), due_at = t.due_at, updated_at = now() "
        f"FROM incidents_case t WHERE t.id = {tpl} AND c.id = %(case)s"
    )
    assignment_sql = _copy(
        "dispatch_assignment", assignment_cols, {"case_id": "%(case)s", "at": "now()"},
        f"id = (SELECT min(id) FROM dispatch_assignment WHERE case_id = {tpl})",
    )  # fmt: skip
    photo_sql = _copy(
        "incidents_casephoto", photo_cols, {"case_id": "%(case)s", "event_id": "NULL"},
        f"id = {plan['photo']}",
    )  # fmt: skip
    media = Path(tempfile.mkdtemp(prefix="lean-photos-"))
    url = BENCH_DB
    latencies: list[float] = []
    deadline = time.monotonic() + duration
    counter = iter(range(10**9))

    async def timed(kind: str, step: Awaitable[Any]) -> Any:
        if timings is None:
            return await step
        start = time.perf_counter()
        try:
            return await step
        finally:
            timings.setdefault(kind, []).append(time.perf_counter() - start)

    async def writer() -> None:
        connect = psycopg.AsyncConnection.connect(url, prepare_threshold=0, autocommit=True)
        async with await connect as conn:

            async def run(kind: str, sql: str, params: Any = None) -> psycopg.AsyncCursor[Any]:
                cur = conn.cursor()
                await timed(kind, cur.execute(sql, params))
                return cur

            while time.monotonic() < deadline:
                i = next(counter)
                # A fresh UUID: a fast run goes round the prepared reports more than once.
                r = {**reports[i % len(reports)], "uuid": uuid.uuid4()}
                start = time.perf_counter()
                await timed("BEGIN", conn.execute("BEGIN"))
                placed = await (await run("placement", place_sql, r)).fetchone()
                # The case in its own cell, as the intake places it (the per-cell
                # rollups' rows are the cell's): not the template case's.
                r["cell"] = placed[0] if placed else None
                await (await run("likely duplicates", duplicates_sql, r)).fetchall()
                row = await (await run("INSERT case (its triggers)", case_sql, r)).fetchone()
                assert row is not None
                params = {**r, "case": row[0]}
                for action in ["case.report"] + (
                    ["case.file", "case.dispatch"] if r["auto"] else []
                ):
                    params["action"] = action.removeprefix("case.")
                    await run("INSERT history entry", event_sql, params)
                    params["action"] = action
                    await run("INSERT outbox row", outbox_sql, params)
                if r["auto"]:
                    await run("UPDATE case: dispatched (its triggers)", update_sql, params)
                    await run("INSERT assignment", assignment_sql, params)
                if r["photo"]:
                    (media / f"{row[0]}.jpg").write_bytes(PHOTO)
                    await run("INSERT photo", photo_sql, params)
                await timed("COMMIT (the WAL's flush)", conn.execute("COMMIT"))
                # The numbering after commit, as incidents.outbox._number_and_send.
                for _ in range(SEQUENCE_ROUNDS):
                    async with conn.transaction():
                        cur = await run("numbering", "SELECT pg_try_advisory_xact_lock(%s)",
                                        [SEQUENCER_LOCK])  # fmt: skip
                        if not (await cur.fetchone() or [False])[0]:
                            break
                        await (await run("numbering", _NUMBER, {"limit": 1000})).fetchall()
                    async with conn.transaction():
                        cur = await run("numbering", _UNNUMBERED)
                        if not (await cur.fetchone() or [False])[0]:
                            break
                latencies.append(time.perf_counter() - start)

    start, db_before, client_before = time.perf_counter(), database_ticks(), time.process_time()
    await asyncio.gather(*(writer() for _ in range(connections)))
    seconds = time.perf_counter() - start
    db_ticks, client_seconds = database_ticks() - db_before, time.process_time() - client_before
    q = statistics.quantiles(latencies, n=100)
    n = len(latencies)
    return Phase(
        f"baseline: lean SQL, same writes ({connections} conn.)", n, seconds, q[49] * 1e3,
        q[94] * 1e3, q[98] * 1e3, None, os.getloadavg()[0], db_ms=db_ticks * 1000 / TICK / n,
        client_ms=client_seconds * 1000 / n,
    )  # fmt: skip


def lean_reports(
    inspectors: list[Inspector], auto: list[int], waiting: list[int], n: int, seed: int
) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        x, y = rng.choice(rng.choice(inspectors).wgs84)
        out.append({
            "x": x + rng.uniform(-1e-4, 1e-4), "y": y + rng.uniform(-1e-4, 1e-4),
            "category": rng.choice(auto if i % 2 else waiting), "uuid": uuid.uuid4(),
            "description": f"巡查发现问题，请尽快处置（第{i}号）", "auto": bool(i % 2),
            "photo": i % 10 == 3,
        })  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20, help="seconds per phase")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--before", help="another checkout whose server runs first (A/B)")
    parser.add_argument("--before-label", default="the other checkout")
    parser.add_argument("--cpu", type=int, default=1, help="in-process CPU per report (0: skip)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk (Debian)")
    # Under overload a request waits for a thread and a pooled connection instead of
    # answering 503 after half a second: the bench measures the intake, not the shedding
    # of load.
    os.environ.setdefault("DATABASE_POOL_TIMEOUT", "5")
    os.environ.setdefault("GRIDMGMT_HTTP_QUEUE_WAIT", "5")
    # The rate limits count per user id in Redis: keys of their own, so that another
    # database's users of the same ids (tests, other benches) do not throttle these.
    os.environ.setdefault("CACHE_KEY_PREFIX", f"intake-bench-{os.getpid()}")
    setup_django()
    from django.db import connection

    from incidents.models import Case, CasePhoto, Outbox
    from layers.models import Category

    reset_cases()
    inspectors = make_inspectors(args.seed)
    auto, waiting = categories()
    seeded = seed_open_cases(inspectors, auto + waiting, args.seed)
    # Enough distinct reports that none is sent twice (a resend is cheaper): ~800/s.
    n = int(args.duration * 800) + 2000
    warm = report_requests(inspectors, auto, waiting, 600, args.seed + 1)
    bodies = report_requests(inspectors, auto, waiting, n, args.seed)
    warm_before = report_requests(inspectors, auto, waiting, 600, args.seed + 11)
    bodies_before = report_requests(inspectors, auto, waiting, n, args.seed + 10)
    category = Category.objects.order_by("pk").first()
    assert category is not None
    floor = [(f"sessionid={i.session}; csrftoken={CSRF}", "", b"") for i in inspectors]
    connection.close()  # the server processes use the database from here

    import bench.server
    from bench.server import start_server

    workdir = Path(tempfile.mkdtemp(prefix="intake-bench-"))
    post = "/api/cases/reports/"
    before: Phase | None = None
    if args.before:
        # The same bench against another checkout's server (e.g. a `git worktree` of the
        # commit before a change, with .venv linked in): a same-run A/B of the change.
        bench.server.ROOT = Path(args.before).resolve()
        server = start_server(BENCH_DB, HOST, PORT, args.workers)
        try:
            run_wrk("warm-up", warm_before, "POST", post, args, server.pid, workdir, 3)
            before, _ = run_wrk(
                f"  before: {args.before_label}", bodies_before, "POST", post, args, server.pid,
                workdir, args.duration,
            )  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)
        bench.server.ROOT = ROOT
    server = start_server(BENCH_DB, HOST, PORT, args.workers)
    try:
        # Warm-up: connections, caches, plans (its reports are distinct from the run's).
        run_wrk("warm-up", warm, "POST", post, args, server.pid, workdir, 3)
        floor_phase, floor_fig = run_wrk(
            "baseline: GET one catalogue row (floor)", floor, "GET",
            f"/api/layers/categories/{category.pk}/", args, server.pid, workdir, args.duration,
        )  # fmt: skip
        intake, figures = run_wrk(
            "POST /api/cases/reports/ (full intake)", bodies, "POST", post, args, server.pid,
            workdir, args.duration,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
    # The ladder's lower rungs, same client and connections: what uvicorn and wrk cost
    # (a bare ASGI app) and a minimal Django view (no middleware, Django's ASGI handler:
    # the request floor's reference, bench/floor_bench.py).
    rungs: list[Phase] = []
    minimal = {"DJANGO_SETTINGS_MODULE": "bench.floor_settings", "FLOOR_MINIMAL": "1",
               "GRIDMGMT_HTTP_SERVING": "asgi"}  # fmt: skip
    for label, app, path, env in [
        ("baseline: bare ASGI app (uvicorn)", "bench.floor_apps:app", "/bare/", {}),
        ("baseline: minimal Django view", "gridmgmt.asgi:application", "/floor/plain/", minimal),
    ]:
        server = start_server(BENCH_DB, HOST, PORT, args.workers, app=app, ready=path, env=env)
        try:
            run_wrk("warm-up", floor, "GET", path, args, server.pid, workdir, 2)
            rungs.append(run_wrk(label, floor, "GET", path, args, server.pid, workdir,
                                 min(args.duration, 8))[0])  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)

    # In-process CPU per report, A and B interleaved (each a fresh process).
    cpu_lines: list[str] = []
    if args.cpu:
        runs = [("this checkout", ROOT)]
        if args.before:
            runs.insert(0, (f"before: {args.before_label}", Path(args.before).resolve()))
        for k in range(2):
            for label, root in runs:
                sample = report_requests(inspectors, auto, waiting, 350, args.seed + 20 + k * 7
                                         + len(cpu_lines))  # fmt: skip
                cpu_lines.append(f"{label:<50} {cpu_per_report(root, sample, workdir)}")

    from django.db.models import Count

    reported = Case.objects.exclude(description="此前上报，尚未办结")
    states = dict(reported.values_list("state").annotate(n=Count("pk")))
    photos = CasePhoto.objects.count()
    unnumbered = Outbox.objects.filter(seq__isnull=True).count()
    plan = lean_plan(auto)
    connection.close()
    with Waits() as waits:
        lean = asyncio.run(
            lean_bound(plan, lean_reports(inspectors, auto, waiting, 4000, args.seed + 3),
                       args.connections, args.duration)
        )  # fmt: skip
    lean = dataclasses.replace(lean, waits=waits.summary())
    # The same writes on one connection, each statement timed: where the bound's time goes.
    timings: dict[str, list[float]] = {}
    alone = asyncio.run(
        lean_bound(plan, lean_reports(inspectors, auto, waiting, 4000, args.seed + 4), 1,
                   min(args.duration, 6), timings)
    )  # fmt: skip

    statuses = figures["statuses"]
    assert isinstance(statuses, dict)
    created = int(statuses.get("201", 0))
    print(f"\nserver: uvicorn, {args.workers} workers; client: wrk, {args.threads} threads, "
          f"{args.connections} connections; machine: {os.cpu_count()} cores; "
          f"database pool timeout {os.environ['DATABASE_POOL_TIMEOUT']} s, "
          f"wait for a thread {os.environ['GRIDMGMT_HTTP_QUEUE_WAIT']} s")  # fmt: skip
    print(f"steady state: {seeded} open cases around the inspectors' {INSPECTORS * CELLS_EACH} "
          f"points before the run; {CATEGORIES_EACH} + {CATEGORIES_EACH} categories")  # fmt: skip
    print(f"statuses: reports {statuses}, floor {floor_fig['statuses']}")
    no_dup = int(figures["no_duplicates"])  # type: ignore[call-overload]
    print(f"reports with likely duplicates: {created - no_dup} of {created}; cases written by "
          f"the server: {states}; photos: {photos}; events not numbered: {unnumbered}")  # fmt: skip
    print(f"\n{'path':<46} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'CPU ms':>7} "
          f"{'DB ms':>7} {'cli ms':>7} {'load':>6}  busy backends waiting")  # fmt: skip
    ladder = (*rungs, floor_phase, intake, *([before] if before else []), lean, alone)
    for phase in ladder:
        print(phase.line())
    print(
        "\nstatuses: "
        + "; ".join(
            f"{p.label.strip()}: {p.detail}"
            for p in (intake, *([before] if before else []), floor_phase)
        )
    )
    if cpu_lines:
        print("\nin-process, one report at a time (Django test client, no server), per report:")
        print("\n".join(cpu_lines))
    print("\nCPU ms: utime + stime of the uvicorn processes per request (from /proc); DB ms: "
          "of PostgreSQL's processes; cli ms: of the load generator (wrk, or the lean "
          "writer's own process); load: 1-minute load average at the end of the phase; busy "
          "backends waiting: samples of the bench database's active backends (Waits)")  # fmt: skip
    cores = os.cpu_count() or 1
    print(f"\nCPU ms a request, all processes (server + database + client), and the rate "
          f"{cores} cores allow at that cost:")  # fmt: skip
    for phase in ladder:
        total = sum(v for v in (phase.cpu_ms, phase.db_ms, phase.client_ms) if v is not None)
        print(f"{phase.label.strip():<46} {total:>7.2f} ms  {cores * 1000 / total:>7,.0f}/s")
    print(f"\nwhere the lean bound's time goes, on one connection ({alone.requests} reports; "
          f"ms a report, each statement's round trip):")  # fmt: skip
    for kind, times in sorted(timings.items(), key=lambda item: -sum(item[1])):
        print(f"  {kind:<44} {sum(times) * 1000 / alone.requests:>6.3f}  ({len(times)} runs)")
    ok = intake.requests / intake.seconds >= 300 and intake.p95 <= 100
    print(f"target (≥ 300 reports/s, p95 ≤ 100 ms): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
