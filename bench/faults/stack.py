"""The kit's own stack: a PostgreSQL cluster (initdb in a temporary directory, its own
port), a Redis, the ASGI server as `make run` serves it (uvicorn, 2 workers) and the SLA
worker. Each is started here, can be broken on purpose (SIGKILL, SIGSTOP, an immediate
stop), and is stopped by Stack.close() whatever happened: the shared services on 5432
and 6379 are never touched.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
APP_ROLE, OWNER_ROLE, DATABASE = "gridmgmt", "gridmgmt_owner", "gridmgmt_faults"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise SystemExit(f"{name} not found under /usr/lib/postgresql (run scripts/setup.sh)")
    return str(found[-1])


def _as_postgres() -> list[str]:
    # initdb and postgres refuse to run as root: the cluster then belongs to `postgres`.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _stop_process(process: subprocess.Popen[bytes] | None, grace: float = 10) -> None:
    """Terminate `process` and the process group it leads (uvicorn's workers)."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGCONT)  # a stopped process cannot end
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclass
class Postgres:
    directory: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, role: str, name: str = DATABASE) -> str:
        return f"postgres://{role}:{role}@127.0.0.1:{self.port}/{name}"

    def init(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        command = [*_as_postgres(), _pg_bin("initdb"), "-D", str(self.data), "-U", "postgres"]
        command += ["--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]
        done = subprocess.run(command, capture_output=True, timeout=120, check=False)
        if done.returncode:
            raise SystemExit(f"initdb failed: {done.stderr.decode()[-2000:]}")
        self.start()
        self.psql(f"CREATE ROLE {OWNER_ROLE} LOGIN PASSWORD '{OWNER_ROLE}'")
        self.psql(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_ROLE}'")
        # As docs/deployment.md sets them up: the owner may hand tables to the application.
        self.psql(f"GRANT {APP_ROLE} TO {OWNER_ROLE}")
        self.psql(f"CREATE DATABASE {DATABASE} OWNER {OWNER_ROLE}")
        self.psql("CREATE EXTENSION postgis; CREATE EXTENSION pg_trgm;", DATABASE)
        self.psql(f"GRANT ALL ON SCHEMA public TO {OWNER_ROLE}", DATABASE)

    def psql(self, statement: str, database: str = "postgres") -> None:
        command = [_pg_bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"]
        command += ["-p", str(self.port), "-U", "postgres", "-d", database, "-c", statement]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def _ctl(self, *args: str) -> None:
        command = [*_as_postgres(), _pg_bin("pg_ctl"), "-D", str(self.data), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        options += " -c max_connections=60 -c shared_buffers=256MB"
        self._ctl("-l", str(self.directory / "postgres.log"), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """`immediate`: as a crash looks to clients (no goodbye, connections cut)."""
        self._ctl("-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def close(self) -> None:
        if self.running():
            try:
                self.stop("fast")
            except subprocess.SubprocessError:
                self.stop("immediate")


@dataclass
class Redis:
    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [shutil.which("redis-server") or "redis-server", "--port", str(self.port)]
        command += ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        command += ["--dir", str(self.directory)]
        log = (self.directory / "redis.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("the kit's Redis did not start within 10 s")

    def signal(self, signum: signal.Signals) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signum)
        if signum == signal.SIGKILL:
            self.process.wait()

    def close(self) -> None:
        _stop_process(self.process)


@dataclass
class Server:
    """uvicorn with the project's ASGI application, as scripts/run.sh serves it."""

    directory: Path
    env: dict[str, str]
    workers: int = 2
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "uvicorn", "gridmgmt.asgi:application"]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--workers", str(self.workers), "--ws-per-message-deflate", "false"]
        command += ["--no-access-log", "--log-level", "warning"]
        command += ["--timeout-graceful-shutdown", "5"]
        log = (self.directory / "server.log").open("ab")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=log, stderr=log, start_new_session=True
        )
        worker_log = (self.directory / "sla-worker.log").open("ab")
        self.worker = subprocess.Popen(
            [sys.executable, "manage.py", "run_sla_worker", "--interval", "2"],
            cwd=ROOT, env=self.env, stdout=worker_log, stderr=worker_log,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited: see {self.directory / 'server.log'}")
            try:
                with urllib.request.urlopen(f"{self.url}/accounts/login/", timeout=2):  # noqa: S310
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        raise SystemExit("the server did not answer within 90 s")

    def worker_alive(self) -> bool:
        return self.worker is not None and self.worker.poll() is None

    def close(self) -> None:
        _stop_process(self.worker)
        _stop_process(self.process)


@dataclass
class Stack:
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="gm-faults-")))
    postgres: Postgres = field(init=False)
    redis: Redis = field(init=False)
    server: Server | None = None

    def __post_init__(self) -> None:
        self.directory.chmod(0o755)  # mkdtemp's 0700 would keep `postgres` out
        self.postgres = Postgres(self.directory / "pg")
        self.redis = Redis(self.directory)

    def env(self) -> dict[str, str]:
        """The environment of the server, the worker and the kit's own Django."""
        return {
            **os.environ,
            "DATABASE_URL": self.postgres.url(APP_ROLE),
            "DATABASE_OWNER_URL": self.postgres.url(OWNER_ROLE),
            "REDIS_URL": self.redis.url,
            "CHANNEL_LAYER_PREFIX": f"faults-{uuid.uuid4().hex[:8]}",
            "CACHE_KEY_PREFIX": "faults",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }

    def start_services(self) -> None:
        self.postgres.init()
        self.redis.start()

    def start_server(self, env: dict[str, str], workers: int) -> Server:
        self.server = Server(self.directory, env, workers)
        self.server.start()
        return self.server

    def close(self, keep_logs: bool = False) -> None:
        """Stop everything started, in the order that lets each stop cleanly."""
        errors = []
        for part in (self.server, self.redis, self.postgres):
            if part is None:
                continue
            try:
                part.close()
            except Exception as error:  # stop the others whatever happens
                errors.append(f"{type(part).__name__}: {error}")
        if not keep_logs:
            shutil.rmtree(self.directory, ignore_errors=True)
        for message in errors:
            print(f"while stopping: {message}", file=sys.stderr)
