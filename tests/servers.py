"""Real ASGI servers for the tests that need them (browser pages, WebSocket clients):
uvicorn in a child process, as `make run` serves, on the pytest database.

The child reads the test database through DATABASE_URL, so the data a test gives it must
be committed: such tests use the `transactional_db` fixture. It serves the collected
static files (WhiteNoise), so the pages' scripts are collected first, once per run, as
`make test` does through scripts/setup.sh.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
_collected = False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    """The URL of the database the test runs on (the pytest one, not the dev one)."""
    db = connection.settings_dict
    password = db.get("PASSWORD") or ""
    credentials = f"{db['USER']}:{password}@" if db.get("USER") else ""
    return f"postgres://{credentials}{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def asgi_server(port: int | None = None, /, **env: str) -> Iterator[str]:
    """Serve gridmgmt.asgi on `port` (by default a free one); yields its base URL. `env`
    adds variables (REDIS_URL, CHANNEL_LAYER_PREFIX, ...) to the test process's
    environment."""
    global _collected
    if not _collected:
        call_command("collectstatic", interactive=False, verbosity=0, stdout=io.StringIO())
        _collected = True
    port = port or free_port()
    child_env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DATABASE_POOL_SIZE": "4",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    command = [sys.executable, "-m", "uvicorn", "gridmgmt.asgi:application"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    log = (ROOT / "var" / f"test-server-{port}.log").open("w+")
    process = subprocess.Popen(command, cwd=ROOT, env=child_env, stdout=log, stderr=log)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log.name)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        Path(log.name).unlink(missing_ok=True)


def server_log(url: str) -> str:
    """What the server at `url` (one of asgi_server's, still running) has logged."""
    port = url.rsplit(":", 1)[1]
    return (ROOT / "var" / f"test-server-{port}.log").read_text()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the test server exited: {Path(log).read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/accounts/login/", timeout=2):  # noqa: S310
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError(f"the test server did not answer within 30 s: {Path(log).read_text()}")


class RedisServer:
    """A redis-server of the test's own, on a free port in `directory`: to stop, start,
    pause (SIGSTOP: a hung Redis) and resume without disturbing other tests."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ping = subprocess.run(  # noqa: S603
                [shutil.which("redis-cli") or "redis-cli", "-p", str(self.port), "ping"],
                capture_output=True,
                check=False,
            )
            if ping.stdout.strip() == b"PONG":
                return
            time.sleep(0.1)
        raise RuntimeError("the test's redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # a paused one cannot stop
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@contextmanager
def private_redis(directory: Path) -> Iterator[RedisServer]:
    redis = RedisServer(directory)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()
