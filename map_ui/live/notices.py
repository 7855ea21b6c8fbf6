"""Notices to a user's live sockets, sent when their access changes: a sign-out
(Django's user_logged_out, the documented hook of the auth app), a deactivation or a
change of post (layers.signals.access_changed, sent after commit by whoever made the
change). The sockets look at their access again at once (LiveConsumer.live_recheck);
should a notice be lost (Redis away), the hub's tick closes them within seconds."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from incidents.outbox import publisher
from map_ui.live.consumers import control_group, session_mark

RECHECK = "live.recheck"  # the consumer method that receives it: live_recheck


def tell_sockets(user_id: int, *, ended_session: str | None = None) -> None:
    """Make the sockets of `user_id` look at their access again; the one of the session
    `ended_session` (a key) closes without looking."""
    message = {"type": RECHECK, "session": session_mark(ended_session) if ended_session else ""}
    publisher.tell(control_group(user_id), message)


def on_logged_out(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if user is None or user.pk is None:
        return
    # Sent before the session is flushed: its key is still known, and the socket of
    # this session closes without waiting for the flush to commit.
    tell_sockets(int(user.pk), ended_session=request.session.session_key)


def on_access_changed(sender: Any, user_ids: list[int], **kwargs: Any) -> None:
    for user_id in user_ids:
        tell_sockets(user_id)
