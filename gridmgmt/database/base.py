"""PostGIS as Django ships it, failing fast where waiting cannot help (gridmgmt/overload.py):

- a request that has already found the database unavailable (no pooled connection
  within DATABASE_POOL_TIMEOUT, PostgreSQL refusing) does not wait again for each later
  query (the session looked up once more by a middleware, the audit entry of a failed
  write ...);
- while an attempt to connect failed (PostgreSQL down, starting up, shutting down, with
  no room for another client) less than DATABASE_KNOWN_DOWN_SECONDS ago, a request does
  not wait for a connection (nor check one of the pool's, broken by the crash).
  Past half that time, one request starts a probe (a connection opened and closed in a
  thread of its own): refused, the time is renewed; accepted, the next requests ask the
  pool again, which connects at once. Service returns within one or two seconds of
  PostgreSQL, and during the outage no request waits for a connection that cannot come.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import psycopg
from django.conf import settings
from django.contrib.gis.db.backends.postgis.base import DatabaseWrapper as PostGISWrapper
from psycopg_pool import ConnectionPool

from gridmgmt import overload
from gridmgmt.database.connections import (
    WatchedConnection,
    check_unless_recent,
    seconds_since_failure,
)

_probing = threading.Lock()  # one probe at a time per process

# psycopg connections that have PostGIS's adapters (they stay with the connection).
_with_geometry_adapters: weakref.WeakSet[Any] = weakref.WeakSet()


def _probe(params: dict[str, Any]) -> None:
    try:
        WatchedConnection.connect(**params).close()  # notes the outcome
    except psycopg.Error:
        pass
    finally:
        _probing.release()


class DatabaseWrapper(PostGISWrapper):
    @property
    def pool(self) -> Any:
        # Django builds the pool with psycopg_pool's own check when CONN_HEALTH_CHECKS is
        # on, and offers no option for another: the check is swapped once, as the pool is
        # made (tests/test_pool_check.py fails should psycopg_pool rename the attribute).
        made = self.alias in self._connection_pools  # type: ignore[attr-defined]
        pool = super().pool
        if not made and getattr(pool, "_check", None) is ConnectionPool.check_connection:
            pool._check = check_unless_recent
        return pool

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        earlier = overload.found_unavailable()
        if earlier is not None:
            raise psycopg.OperationalError(f"unavailable earlier in this request: {earlier}")
        if overload.in_request() and self.pool is not None:
            since = seconds_since_failure()
            window = settings.DATABASE_KNOWN_DOWN_SECONDS
            # Not even a connection of the pool: those the crash broke fail its check,
            # and the pool pauses between two failed checks (up to the timeout again).
            if since < window:
                if since > window / 2 and _probing.acquire(blocking=False):
                    params = {**self.get_connection_params(), "autocommit": True}
                    threading.Thread(target=_probe, args=(params,), daemon=True).start()
                error = psycopg.OperationalError(
                    f"PostgreSQL refused a connection {since:.1f} s ago"
                )
                overload.note_unavailable(error)
                raise error
        try:
            return super().get_new_connection(conn_params)
        except psycopg.OperationalError as error:
            overload.note_unavailable(error)
            raise

    def register_geometry_adapters(self, pg_connection: Any, clear_caches: bool = False) -> None:
        # Django's PostGIS backend registers them in get_new_connection(), which with a
        # pool runs for every request that takes a connection: 8 loaders and 2 dumpers,
        # a fifth of the CPU of taking a pooled connection. They stay registered on it.
        if clear_caches or pg_connection not in _with_geometry_adapters:
            super().register_geometry_adapters(pg_connection, clear_caches)
            _with_geometry_adapters.add(pg_connection)
