"""Does a live socket's user still have it? Read when it opens, on every tick of the
process (map_ui.live.hub: one statement for all its sockets) and when told through
the channel layer (a sign-out, a deactivation, a change of post).

A socket belongs to a session, by its cookie or by the ticket of its token
(map_ui.live.models). It may stay open while that session lives and still verifies as
Django verifies it (the user is active, the password has not changed since), and while
the user's post gives the groups it joined. A sign-out, a deactivation, a new password
or a change of post ends it.
"""

from __future__ import annotations

from collections.abc import Collection
from http import HTTPStatus
from types import SimpleNamespace
from typing import Any, NamedTuple, cast

from django.conf import settings
from django.contrib.auth import get_user, get_user_model
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.models import Session
from django.db import connection
from django.http import HttpRequest
from django.utils.module_loading import import_string

from gridmgmt import clock
from incidents.access import live_audience
from incidents.outbox import Audience
from layers.models import Staff, Unit

# Close codes (docs/websocket.md). 4xxx are the application's own: 4000 + the HTTP
# status that means the same.
CLOSE_BASE = 4000
# the client sent something that is not a valid "resume"
CLOSE_BAD_MESSAGE = CLOSE_BASE + HTTPStatus.BAD_REQUEST
# no session and no valid token; signed out, deactivated
CLOSE_UNAUTHENTICATED = CLOSE_BASE + HTTPStatus.UNAUTHORIZED
# signed in, but may see no cases (no post, data admin)
CLOSE_FORBIDDEN = CLOSE_BASE + HTTPStatus.FORBIDDEN
# "reset content": the post changed, the page must reload
CLOSE_POST_CHANGED = CLOSE_BASE + HTTPStatus.RESET_CONTENT
CLOSE_TRY_AGAIN = 1013  # the channel layer (Redis) is unreachable: reconnect later


class Fingerprint(NamedTuple):
    """What a socket's access depends on, as one statement reads it for many sockets.
    `signed_in` and `active` decide at once; any other change is examined in full."""

    signed_in: bool
    active: bool
    superuser: bool
    password: str
    role: str | None
    unit_id: int | None
    unit_area_id: int | None
    cells: tuple[int, ...]


def _statement() -> str:
    users, staff, units = (m._meta.db_table for m in (get_user_model(), Staff, Unit))
    cells = Staff.cells.through._meta.db_table
    sessions = Session._meta.db_table
    return (
        "WITH live (user_id, session_key) AS (SELECT * FROM unnest(%s::int[], %s::text[])) "
        "SELECT live.user_id, live.session_key, "
        f"EXISTS (SELECT 1 FROM {sessions} d WHERE d.session_key = live.session_key "
        "AND d.expire_date > %s), "
        "coalesce(u.is_active, false), coalesce(u.is_superuser, false), "
        "coalesce(u.password, ''), s.role, s.unit_id, n.area_id, "
        f"ARRAY(SELECT c.area_id FROM {cells} c WHERE c.staff_id = s.id ORDER BY c.area_id) "
        f"FROM live LEFT JOIN {users} u ON u.id = live.user_id "
        f"LEFT JOIN {staff} s ON s.user_id = u.id LEFT JOIN {units} n ON n.id = s.unit_id"
    )


def fingerprints(sockets: Collection[tuple[int, str]]) -> dict[tuple[int, str], Fingerprint]:
    """The fingerprint of each (user id, session key), by one statement."""
    if not sockets:
        return {}
    user_ids, session_keys = zip(*set(sockets), strict=True)
    with connection.cursor() as cursor:
        cursor.execute(_statement(), [list(user_ids), list(session_keys), clock.now()])
        rows = cursor.fetchall()
    return {(row[0], row[1]): _fingerprint(row) for row in rows}


def _fingerprint(row: tuple[Any, ...]) -> Fingerprint:
    signed_in, active, superuser, password, role, unit_id, unit_area_id, cells = row[2:]
    return Fingerprint(
        signed_in, active, superuser, password, role, unit_id, unit_area_id, tuple(cells or ())
    )


def session_user(session: SessionBase) -> Any:
    """The user of `session` as Django's own sign-in checks it for a request (the
    backend, the auth hash of the password), or None."""
    user = get_user(cast(HttpRequest, SimpleNamespace(session=session)))
    return user if user.is_authenticated else None


def session_of(session_key: str) -> SessionBase:
    store: type[SessionBase] = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    return store(session_key)


class Access(NamedTuple):
    close: int | None  # the close code, or None: it may stay
    audience: Audience
    fingerprint: Fingerprint | None


def admission(user: Any, session_key: str) -> Access:
    """For a socket opening: its fingerprint (first: a change that follows is noticed
    at the next tick) and the groups of the user's post."""
    found = fingerprints([(int(user.pk), session_key)]).get((int(user.pk), session_key))
    audience = live_audience(user)
    if not audience.groups():
        return Access(CLOSE_FORBIDDEN, audience, found)
    return Access(None, audience, found)


def reexamine(user_id: int, session_key: str, joined: Audience) -> Access:
    """For an open socket whose fingerprint changed or that was told to look: closed
    unless its session still verifies for its user and the post gives it the same
    groups as when it joined."""
    found = fingerprints([(user_id, session_key)]).get((user_id, session_key))
    user = session_user(session_of(session_key))
    if user is None or int(user.pk) != user_id:
        return Access(CLOSE_UNAUTHENTICATED, Audience(), found)
    audience = live_audience(user)
    if not audience.groups():
        return Access(CLOSE_FORBIDDEN, audience, found)
    if set(audience.groups()) != set(joined.groups()):
        return Access(CLOSE_POST_CHANGED, audience, found)
    return Access(None, audience, found)
