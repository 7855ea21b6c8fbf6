"""The pool's check of a connection before it is handed out, skipped for a connection
handed out within DATABASE_POOL_CHECK_AFTER seconds (gridmgmt/database/connections.py):
on real PostgreSQL, with a connection whose backend was terminated."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from django.db import connections
from psycopg_pool import ConnectionPool

from gridmgmt.database.connections import WatchedConnection, check_unless_recent

pytestmark = pytest.mark.django_db


def test_django_pool_uses_the_check() -> None:
    default: Any = connections["default"]
    pool = default.pool
    assert pool is not None and pool._check is check_unless_recent


def _params() -> dict[str, Any]:
    default: Any = connections["default"]
    return {**default.get_connection_params(), "autocommit": True}


def _one_connection_pool() -> ConnectionPool[Any]:
    return ConnectionPool(
        kwargs=_params(), min_size=1, max_size=1, timeout=10, open=True,
        check=check_unless_recent, connection_class=WatchedConnection,
    )  # fmt: skip


def _cut(pid: int) -> None:
    """Terminate backend `pid` from a connection of its own, and wait until it is gone."""
    with psycopg.connect(**_params()) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
        alive = "SELECT count(*) FROM pg_stat_activity WHERE pid = %s"
        for _ in range(100):
            if other.execute(alive, [pid]).fetchone() == (0,):
                return
            time.sleep(0.05)
    raise AssertionError(f"backend {pid} still there")


def _pid(conn: Any) -> int:
    row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def test_a_connection_handed_out_just_now_is_not_checked_one_idle_longer_is(
    settings: Any,
) -> None:
    settings.DATABASE_POOL_CHECK_AFTER = 1.0
    with _one_connection_pool() as pool:
        with pool.connection() as conn:
            pid = _pid(conn)
        _cut(pid)
        # Handed out again within the second: not checked, so it is the cut connection,
        # whose first statement fails; the pool drops it when it comes back.
        with pytest.raises(psycopg.OperationalError), pool.connection() as conn:
            conn.execute("SELECT 1")
        with pool.connection() as conn:
            pid = _pid(conn)  # a new one
        time.sleep(1.1)
        _cut(pid)
        # Idle longer than the second: checked, the cut one dropped, a working one given.
        with pool.connection() as conn:
            assert _pid(conn) != pid


def test_with_no_window_every_hand_out_is_checked(settings: Any) -> None:
    settings.DATABASE_POOL_CHECK_AFTER = 0.0
    with _one_connection_pool() as pool:
        with pool.connection() as conn:
            pid = _pid(conn)
        _cut(pid)
        with pool.connection() as conn:
            assert _pid(conn) != pid
