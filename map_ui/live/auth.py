"""WebSocket authentication by a token offered as a subprotocol (map_ui.live.tokens),
after the session's: a connection that carries a valid session cookie is that session's
user; one without is the user of the session its token was issued to, checked as
Django checks a session (map_ui.live.checks.session_user). Either way the socket has a
session (scope["session"]), and lives only as long as it does."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase

from map_ui.live.checks import session_of, session_user
from map_ui.live.models import ticket_session
from map_ui.live.tokens import TOKEN_PREFIX, read_token


def offered_token(scope: dict[str, Any]) -> str | None:
    for offered in scope.get("subprotocols") or ():
        if offered.startswith(TOKEN_PREFIX):
            return str(offered.removeprefix(TOKEN_PREFIX))
    return None


@database_sync_to_async
def _session_and_user(token: str) -> tuple[SessionBase | None, Any]:
    found = read_token(token)
    if found is None:
        return None, AnonymousUser()
    user_id, ticket = found
    session_key = ticket_session(user_id=user_id, key=ticket)
    if session_key is None:
        return None, AnonymousUser()
    session = session_of(session_key)
    user = session_user(session)
    if user is None or int(user.pk) != user_id:  # signed out, or another user since
        return None, AnonymousUser()
    return session, user


class TokenAuthMiddleware(BaseMiddleware):
    """Sets scope["user"] and scope["session"] from the offered token when the session
    gave nobody. Goes inside channels.auth.AuthMiddlewareStack, which resolves the
    session user first."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        user = scope.get("user")
        token = offered_token(scope)
        if token is not None and (user is None or not user.is_authenticated):
            session, user = await _session_and_user(token)
            scope = {**scope, "user": user}
            if session is not None:
                scope["session"] = session
        return await super().__call__(scope, receive, send)
