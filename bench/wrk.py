"""HTTP load with wrk (Debian's `wrk`), and the CPU it cost, read from /proc.

`run_wrk` drives one list of GET paths round-robin from `connections` keep-alive
connections for a fixed time and returns requests/s, latency percentiles and status
counts, with the CPU time that the server's processes (the uvicorn process and its
workers) and the bench database's PostgreSQL backends spent meanwhile: ms per request
on each side, which is robust to the load of other processes on the machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")

_LUA = r"""
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
local counter = 0
local statuses = {}
function setup(thread)
  thread:set("offset", counter)
  counter = counter + 997
end
function init(args)
  n = offset
  wrk.headers["Cookie"] = os.getenv("WRK_COOKIE")
end
function request()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1])
end
function done(summary, latency, requests)
  local out = string.format(
    '{"requests": %d, "seconds": %.3f, "p50": %.3f, "p95": %.3f, "p99": %.3f, ' ..
    '"non2xx": %d, "errors": %d}',
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout)
  io.stderr:write("WRK_RESULT " .. out .. "\n")
end
"""


@dataclass(frozen=True)
class Load:
    label: str
    requests: int
    seconds: float
    p50: float
    p95: float
    p99: float
    non2xx: int
    errors: int
    server_cpu_ms: float  # per request
    db_cpu_ms: float  # per request
    loadavg: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def line(self) -> str:
        return (
            f"{self.label:<52} {self.rate:>8.0f} {self.p50:>7.1f} {self.p95:>7.1f} "
            f"{self.p99:>7.1f} {self.server_cpu_ms:>7.2f} {self.db_cpu_ms:>6.2f} "
            f"{self.non2xx + self.errors:>5} {self.loadavg:>5.1f}"
        )


HEADER = (
    f"{'path':<52} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
    f"{'srv ms':>7} {'db ms':>6} {'bad':>5} {'load':>5}"
)


def require_wrk() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    return found


def process_tree(root: int) -> list[int]:
    """`root` and every process below it."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def backends(database: str) -> list[int]:
    """PostgreSQL backends connected to `database` (their process title names it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if re.match(rf"postgres: (?:\S+: )?\S+ {re.escape(database)} ", title):
                pids.append(int(entry.name))
    return pids


def cpu_ms(pids: list[int]) -> dict[int, float]:
    """utime + stime of each process, in ms."""
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) * TICK_MS
    return out


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(ms - before.get(pid, 0.0) for pid, ms in after.items())


def run_wrk(
    label: str,
    base_url: str,
    paths: list[str],
    *,
    cookie: str,
    connections: int,
    seconds: float,
    server_pid: int,
    database: str,
    threads: int = 2,
) -> Load:
    wrk = require_wrk()
    with tempfile.TemporaryDirectory() as tmp:
        script, listing = Path(tmp) / "paths.lua", Path(tmp) / "paths.txt"
        script.write_text(_LUA)
        listing.write_text("\n".join(paths) + "\n")
        env = {**os.environ, "WRK_PATHS": str(listing), "WRK_COOKIE": cookie}
        command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s",
                   "--timeout", "10s", "-s", str(script), base_url]  # fmt: skip
        server_before = cpu_ms(process_tree(server_pid))
        db_before = cpu_ms(backends(database))
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        server_after = cpu_ms(process_tree(server_pid))
        db_after = cpu_ms(backends(database))
        loadavg = os.getloadavg()[0]
    match = re.search(r"WRK_RESULT (\{.*\})", done.stderr)
    if not match:
        raise SystemExit(f"wrk gave no result:\n{done.stdout}\n{done.stderr}")
    result = json.loads(match.group(1))
    n = max(result["requests"], 1)
    return Load(
        label,
        result["requests"],
        result["seconds"],
        result["p50"],
        result["p95"],
        result["p99"],
        result["non2xx"],
        result["errors"],
        _spent(server_before, server_after) / n,
        _spent(db_before, db_after) / n,
        loadavg,
    )


def bench_session(username: str, role: str, unit_name_endswith: str) -> str:
    """A signed-in session of a staff user (created if missing) at the first unit whose
    name ends so, as the bench clients' cookie value."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    from layers.models import Staff, Unit

    backend = next(
        path for path in settings.AUTHENTICATION_BACKENDS if hasattr(load_backend(path), "get_user")
    )
    unit = Unit.objects.filter(name__endswith=unit_name_endswith).order_by("pk").first()
    if unit is None:
        raise SystemExit(f"no unit named …{unit_name_endswith}: run create_demo_users")
    user, _ = User.objects.get_or_create(username=username)
    Staff.objects.get_or_create(user=user, defaults={"role": role, "unit": unit})
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = backend
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return f"sessionid={session.session_key}"
