"""Sessions in the database, as django.contrib.sessions.backends.db, read with one plain
statement: every request loads its session, and building the ORM query took half of
the 0.47 ms the lookup cost (docs/performance.md, vector tiles)."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.sessions.backends import db
from django.db import connection
from django.utils import timezone

# What Django makes a session key of (32 of db.SessionStore's VALID_KEY_CHARS). Anything
# else in the cookie is no session: a NUL byte in it, sent to PostgreSQL, was a 500
# (tests/test_fuzz_api.py).
_SESSION_KEY = re.compile(r"[a-z0-9]{8,64}\Z")


class SessionStore(db.SessionStore):
    def _validate_session_key(self, key: str | None) -> bool:
        return bool(key) and _SESSION_KEY.match(key or "") is not None

    def _get_session_from_db(self) -> Any:
        if self.session_key is None:
            return None
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT session_data, expire_date FROM {self.model._meta.db_table} "
                "WHERE session_key = %s AND expire_date > %s",
                [self.session_key, timezone.now()],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return self.model(session_key=self.session_key, session_data=row[0], expire_date=row[1])
