"""Sessions in the database, as django.contrib.sessions.backends.db, read with one plain
statement: every request loads its session, and building the ORM query took half of
the 0.47 ms the lookup cost (docs/performance.md, vector tiles).

The same statement reads the session's user with their post (layers.auth), so that a
signed-in request asks PostgreSQL once where it asked twice (docs/performance.md,
"Request floor"). The user's id is inside the session's signed data, which PostgreSQL
cannot read, so each process remembers which user a session key belongs to once it has
read that session (a key never changes hands: signing in again gives a new key); the
first request of a session in a process reads its user separately. Nothing about the
user is kept: the row is read afresh with the session on every request, so a user
deactivated, a password changed, a session ended take effect at the next request, as
before (tests/test_sessions_user.py). A remembered user id that is not the session's
(never expected) only costs the second statement: the row read with the session is used
only for the user the session names (preloaded_user()).
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from functools import partial
from typing import Any

from django.contrib import auth
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.backends import db
from django.core.signals import setting_changed
from django.db import connection
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

# What Django makes a session key of (32 of db.SessionStore's VALID_KEY_CHARS). Anything
# else in the cookie is no session: a NUL byte in it, sent to PostgreSQL, was a 500
# (tests/test_fuzz_api.py).
_SESSION_KEY = re.compile(r"[a-z0-9]{8,64}\Z")

# Session key → the id of its user, per process; forgotten all at once when full.
_users_of_sessions: dict[str, int] = {}
KEPT_SESSIONS = 20_000

# A session's signed data → what it decodes to, per process, when that is only strings,
# numbers and the like (a signed-in session: user id, backend, password hash, language),
# so that a copy cannot share a list or dict with the next request's; forgotten all at
# once when full, or when a setting changes (the secret key signs the data).
_decoded: dict[tuple[str, str | bytes], dict[str, Any]] = {}
KEPT_DECODED = 20_000
_SCALARS = (str, int, float, bool, type(None))


@receiver(setting_changed)
def _forget_decoded(**kwargs: Any) -> None:
    _decoded.clear()


# The session of the request whose user is being loaded (UserWithSessionMiddleware).
_loading: ContextVar[SessionStore | None] = ContextVar("gridmgmt_session_loading", default=None)


class SessionStore(db.SessionStore):
    # The user (with post) read in the session's statement, and the id it was read for.
    _preloaded: tuple[int, Any] | None = None

    def _validate_session_key(self, key: str | None) -> bool:
        return bool(key) and _SESSION_KEY.match(key or "") is not None

    def decode(self, session_data: str | bytes) -> dict[str, Any]:
        # Checking the signature and reading the data cost 14 µs on every request; the same
        # signed data always decodes to the same values under the same secret key.
        key = (self.key_salt, session_data)
        known = _decoded.get(key)
        if known is not None:
            return dict(known)
        data: dict[str, Any] = super().decode(session_data)
        # Only what decoded (a bad signature gives {} and is logged each time) and holds
        # no list or dict that the request could change in place.
        if data and all(isinstance(value, _SCALARS) for value in data.values()):
            if len(_decoded) >= KEPT_DECODED:
                _decoded.clear()
            _decoded[key] = dict(data)
        return data

    def _get_session_from_db(self) -> Any:
        if self.session_key is None:
            return None
        from layers.auth import user_columns_and_joins, user_from_row

        table = self.model._meta.db_table
        params: list[Any] = [self.session_key, timezone.now()]
        user_id = _users_of_sessions.get(self.session_key)
        if user_id is None:
            statement = f"SELECT e.session_data, e.expire_date FROM {table} e "
        else:
            columns, joins = user_columns_and_joins()
            statement = (
                f"SELECT e.session_data, e.expire_date, {columns} FROM {table} e "
                f"LEFT JOIN {_user_table()} u ON u.id = %s {joins} "
            )
            params.insert(0, user_id)
        with connection.cursor() as cursor:
            cursor.execute(f"{statement}WHERE e.session_key = %s AND e.expire_date > %s", params)
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        if user_id is not None:
            self._preloaded = (user_id, user_from_row(row[2:]))
        return self.model(session_key=self.session_key, session_data=row[0], expire_date=row[1])

    def load(self) -> dict[str, Any]:
        data = super().load()
        user_id = data.get(SESSION_KEY)
        if self.session_key is not None and isinstance(user_id, str) and user_id.isdigit():
            if len(_users_of_sessions) >= KEPT_SESSIONS:
                _users_of_sessions.clear()
            _users_of_sessions[self.session_key] = int(user_id)
        return data


def _user_table() -> str:
    from django.contrib.auth import get_user_model

    return str(get_user_model()._meta.db_table)


def preloaded_user(user_id: int) -> Any:
    """The user `user_id` as read with the session of the request whose user is being
    loaded, if the session's statement read that user; None otherwise."""
    session = _loading.get()
    preloaded = session._preloaded if session is not None else None
    if session is None or preloaded is None or preloaded[0] != user_id:
        return None
    session._preloaded = None  # read once: a later load reads the row again
    return preloaded[1]


def _get_user(request: HttpRequest) -> Any:
    if not hasattr(request, "_cached_user"):
        session = getattr(request, "session", None)
        token = _loading.set(session if isinstance(session, SessionStore) else None)
        try:
            request._cached_user = auth.get_user(request)  # type: ignore[attr-defined]
        finally:
            _loading.reset(token)
    return request._cached_user  # type: ignore[attr-defined]


class UserWithSessionMiddleware(AuthenticationMiddleware):
    """Django's AuthenticationMiddleware, its user loaded while the request's session is
    known (preloaded_user()): Django's checks of the user are unchanged (the session's
    hash of the password, the user active), only the row may come with the session's."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(partial(_get_user, request))  # type: ignore[assignment]
