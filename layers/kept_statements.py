"""Statements PostgreSQL keeps parsed and planned on each connection (prepared statements).

The ORM's cursors bind their parameters in the client (psycopg's ClientCursor), so each
statement is parsed and planned by PostgreSQL every time it runs. For the few plain
statements run on every request of a hot path, planning costs more than running them:
placing a point (four areas joined from a GiST match) plans in ~0.5 ms and runs in
~0.13; geocoding's road-name statement plans in ~1 ms (docs/performance.md, "Hotline
geocoding"). kept_cursor() gives a cursor that binds its parameters on the server, so
that psycopg prepares a statement once it has run settings.DATABASES' `prepare_threshold`
times on a pooled connection (gridmgmt/settings.py) and executes the prepared one after.
It is Django's cursor wrapper around it, so the statements pass the connection's execute
wrappers and are logged (with their values, as the ORM's are) like any other.

Only for statements written with `%s` placeholders and plain values (numbers, text,
bytes): parameters are sent typed, not spliced into the text.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.backends.postgresql.base import CursorDebugWrapper, ServerBindingCursor
from django.db.backends.utils import CursorWrapper


class _LoggedKeptCursor(CursorDebugWrapper):
    """Django's debug cursor reads a client-bound statement's text back from psycopg;
    a server-bound one is logged as its text with the values in it."""

    def execute(self, sql: Any, params: Any = None) -> Any:
        with self.debug_sql(self.db.ops.compose_sql(sql, params)):
            return CursorWrapper.execute(self, sql, params)


def kept_cursor() -> CursorWrapper:
    """A cursor of the default connection whose statements PostgreSQL keeps prepared
    (use as `with kept_cursor() as cursor:`)."""
    connection.ensure_connection()
    raw: Any = ServerBindingCursor(connection.connection)  # type: ignore[call-arg]
    connection.validate_thread_sharing()
    if connection.queries_logged:
        return _LoggedKeptCursor(raw, connection)
    return CursorWrapper(raw, connection)
