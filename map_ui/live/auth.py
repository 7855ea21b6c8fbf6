"""WebSocket authentication by `?token=` (map_ui.live.tokens), after the session's: a
connection that carries a valid session cookie is that session's user; one without
is the token's user, if the token is valid."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

from map_ui.live.tokens import read_token

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser


@database_sync_to_async
def _user_for(token: str) -> AbstractBaseUser | AnonymousUser:
    user_id = read_token(token)
    found = None
    if user_id is not None:
        found = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    return found if found is not None else AnonymousUser()


class TokenAuthMiddleware(BaseMiddleware):
    """Sets scope["user"] from the query string's token when the session gave nobody.
    Goes inside channels.auth.AuthMiddlewareStack, which resolves the session user first."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        user = scope.get("user")
        if user is None or not user.is_authenticated:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            tokens = query.get("token")
            if tokens:
                scope = {**scope, "user": await _user_for(tokens[0])}
        return await super().__call__(scope, receive, send)
