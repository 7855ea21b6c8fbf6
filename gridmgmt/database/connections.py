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

_failed_at = -math.inf  # time.monotonic() of the last failed attempt; -inf after a success


def seconds_since_failure() -> float:
    """Seconds since the pool last failed to open a connection (inf: it opened one since)."""
    return time.monotonic() - _failed_at


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
