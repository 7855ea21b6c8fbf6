"""A PostgreSQL cluster of a test's own, for tests that stop and start the database
under a running server or worker (the shared cluster on 5432 must stay up for everyone
else). initdb in a temporary directory, its own port, trust authentication on
127.0.0.1; the PostgreSQL binaries the set-up installed (scripts/setup.sh).

A database is copied into it from the pytest database with pg_dump, so a test prepares
its data through the project's own code and then runs against the copy.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from django.db import connection

from tests.servers import free_port


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
    return found[-1].parent


def _as_owner() -> list[str]:
    # initdb and postgres refuse to run as root: the cluster belongs to `postgres` then.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class Cluster:
    data: Path
    port: int
    log: Path

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def _ctl(self, *args: str) -> None:
        command = [*_as_owner(), str(_bindir() / "pg_ctl"), "-D", str(self.data), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=60)  # noqa: S603

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1"
        self._ctl("-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """`immediate`: the way a crash looks to clients (no goodbye, sockets cut)."""
        self._ctl("-m", mode, "-w", "stop")

    def connect(self, name: str) -> psycopg.Connection:
        return psycopg.connect(self.url(name), autocommit=True, connect_timeout=5)

    def copy_test_database(self, name: str) -> str:
        """The pytest database as it is now (committed rows), as `name`; its URL."""
        db = connection.settings_dict
        env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
        source = ["-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432)]
        source += ["-U", db["USER"], db["NAME"]]
        dump = self.data.parent / f"{name}.dump"
        subprocess.run(  # noqa: S603
            [str(_bindir() / "pg_dump"), "-Fc", "-f", str(dump), *source],
            check=True, capture_output=True, env=env, timeout=300,
        )  # fmt: skip
        with self.connect("postgres") as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
        target = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", name]
        subprocess.run(  # noqa: S603
            [str(_bindir() / "pg_restore"), "--no-owner", "--no-privileges", *target, str(dump)],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        return self.url(name)


@contextmanager
def own_postgres() -> Iterator[Cluster]:
    """A fresh cluster, started; stopped and removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="gridmgmt-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = Cluster(data=root / "data", port=free_port(), log=root / "postgres.log")
    initdb = [*_as_owner(), str(_bindir() / "initdb"), "-D", str(cluster.data)]
    initdb += ["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]
    subprocess.run(initdb, check=True, capture_output=True, timeout=120)  # noqa: S603
    cluster.start()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # stopped by the test
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def wait_for(condition: object, timeout: float, step: float = 0.05) -> float:
    """Poll `condition()` until it is true; seconds it took (AssertionError after
    `timeout`)."""
    assert callable(condition)
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(step)
    return time.monotonic() - start
