"""What a live-map token stands for: the session that fetched it (docs/websocket.md).

The token names a ticket, signed with a timestamp (map_ui.live.tokens); the ticket names
the session. A socket opened with a token belongs to that session as a cookie socket
does: it is refused once the session has ended, and closed when it ends. The session key
stays on the server: the token is read by page scripts and travels in a header that
proxies may log, and the key would open the whole site for two weeks, not one socket.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models

from gridmgmt import clock
from map_ui.live.tokens import make_token


class LiveTicket(models.Model):
    key = models.CharField(max_length=32, primary_key=True)
    session_key = models.CharField(max_length=40)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="+")
    created = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"live ticket of user {self.user_id}"


def issue_token(*, user_id: int, session_key: str) -> str:
    """A token for `user_id` that opens live sockets while `session_key` lives."""
    now = clock.now()
    # A ticket is needed only while its token opens sockets: open sockets keep the
    # session key themselves.
    expired = now - timedelta(seconds=settings.LIVE_TOKEN_MAX_AGE)
    LiveTicket.objects.filter(created__lt=expired).delete()
    ticket = LiveTicket.objects.create(
        key=secrets.token_hex(16), session_key=session_key, user_id=user_id, created=now
    )
    return make_token(user_id, ticket.key)


def ticket_session(*, user_id: int, key: str) -> str | None:
    """The session key of the ticket `key` issued to `user_id`, if there is one."""
    tickets = LiveTicket.objects.filter(key=key, user_id=user_id)
    found: str | None = tickets.values_list("session_key", flat=True).first()
    return found
