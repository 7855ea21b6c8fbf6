"""The pool's connections, watched: when did the pool last fail to open one (PostgreSQL
down, starting up, shutting down, refusing more clients)? While that is recent, a
request answers 503 at once instead of waiting DATABASE_POOL_TIMEOUT for a
connection that cannot come (gridmgmt/database/base.py). Plain psycopg: settings.py
names the class in the pool's options."""

from __future__ import annotations

import math
import time
from typing import Any

import psycopg
import psycopg_pool

_failed_at = -math.inf  # time.monotonic() of the last failed attempt; -inf after a success


def seconds_since_failure() -> float:
    """Seconds since the pool last failed to open a connection (inf: it opened one since)."""
    return time.monotonic() - _failed_at


def check_unless_recent(connection: Any) -> None:
    """The pool's check of a connection it is about to hand out (an empty statement, one
    round trip), skipped when the pool handed out this connection less than
    DATABASE_POOL_CHECK_AFTER seconds ago: it worked then, and one that broke since its
    last use is closed by the pool when it comes back (psycopg_pool drops a returned
    connection whose server went away). Under load a connection is handed out again within
    milliseconds, so the check, a fifth of the round trips of a small GET, is paid only by
    connections idle for a while, which are the ones a database restart leaves broken."""
    from django.conf import settings

    now = time.monotonic()
    last = getattr(connection, "handed_at", -math.inf)
    connection.handed_at = now
    if now - last >= settings.DATABASE_POOL_CHECK_AFTER:
        psycopg_pool.ConnectionPool.check_connection(connection)


class WatchedConnection(psycopg.Connection[Any]):
    @classmethod
    def connect(cls, conninfo: str = "", **kwargs: Any) -> Any:  # type: ignore[override]
        global _failed_at
        try:
            connection = super().connect(conninfo, **kwargs)
        except psycopg.OperationalError:
            # Refused, reset, timed out, starting up, shutting down; also "too many
            # clients" (libpq gives no SQLSTATE to tell them apart): overloaded too.
            _failed_at = time.monotonic()
            raise
        _failed_at = -math.inf
        return connection
