"""PostGIS as Django ships it, with one change: a request that has already found the
database unavailable (no pooled connection within DATABASE_POOL_TIMEOUT, or PostgreSQL
refusing connections) does not wait again for each later query (the session looked up
once more by a middleware, the audit entry of a failed write ...): it fails at once and
answers its 503 within the bound (gridmgmt/overload.py)."""

from __future__ import annotations

from typing import Any

import psycopg
from django.contrib.gis.db.backends.postgis.base import DatabaseWrapper as PostGISWrapper

from gridmgmt import overload


class DatabaseWrapper(PostGISWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        earlier = overload.found_unavailable()
        if earlier is not None:
            raise psycopg.OperationalError(f"unavailable earlier in this request: {earlier}")
        try:
            return super().get_new_connection(conn_params)
        except psycopg.OperationalError as error:
            overload.note_unavailable(error)
            raise
