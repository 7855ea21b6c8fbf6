"""WebSocket authentication by a token offered as a subprotocol (map_ui.live.tokens),
after the session's: a connection that carries a valid session cookie is that session's
user; one without is the token's user, if the token is valid."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from layers.auth import UserAndPostBackend
from map_ui.live.tokens import TOKEN_PREFIX, read_token

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser


def offered_token(scope: dict[str, Any]) -> str | None:
    for offered in scope.get("subprotocols") or ():
        if offered.startswith(TOKEN_PREFIX):
            return str(offered.removeprefix(TOKEN_PREFIX))
    return None


@database_sync_to_async
def _user_for(token: str) -> AbstractBaseUser | AnonymousUser:
    user_id = read_token(token)
    found = None if user_id is None else UserAndPostBackend().get_user(user_id)
    return found if found is not None else AnonymousUser()


class TokenAuthMiddleware(BaseMiddleware):
    """Sets scope["user"] from the offered token when the session gave nobody. Goes
    inside channels.auth.AuthMiddlewareStack, which resolves the session user first."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        user = scope.get("user")
        token = offered_token(scope)
        if token is not None and (user is None or not user.is_authenticated):
            scope = {**scope, "user": await _user_for(token)}
        return await super().__call__(scope, receive, send)
