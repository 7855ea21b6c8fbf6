"""The live map's WebSocket: case events a user may see, in sequence order, with resume
from the outbox after a gap. The protocol is docs/websocket.md.

One connection holds:
- its session (by cookie or by the ticket of its token) and its audience
  (incidents.access.live_audience), read when it connects; the process's hub
  (map_ui.live.hub) reads every socket's access on each tick, and a sign-out, a
  deactivation or a change of post is also pushed to the user's control group: the
  socket is closed within seconds;
- `upto`: every event it may see numbered up to `upto` was delivered, or the client had
  it already (its resume number, or the map it loaded before connecting);
- `seen`: the recent numbers it delivered, so that an event reaching it through two
  groups, or both live and from the outbox, goes out once.
Live events are held after connecting until the client's "resume" is answered, so that
the replay and the live events that follow arrive in sequence order.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from redis.exceptions import RedisError

from incidents.outbox import Audience, EventPayload, last_seq, replay
from map_ui.live.checks import (
    CLOSE_BAD_MESSAGE,
    CLOSE_FORBIDDEN,
    CLOSE_POST_CHANGED,
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHENTICATED,
    Fingerprint,
    admission,
    reexamine,
)
from map_ui.live.hub import hub
from map_ui.live.tokens import PROTOCOL
from notifications.collect import inbox_group

__all__ = [
    "CLOSE_BAD_MESSAGE",
    "CLOSE_FORBIDDEN",
    "CLOSE_POST_CHANGED",
    "CLOSE_TRY_AGAIN",
    "CLOSE_UNAUTHENTICATED",
    "LiveConsumer",
    "control_group",
    "session_mark",
]

log = logging.getLogger(__name__)

# How many delivered numbers a connection remembers to drop duplicates: duplicates come
# within moments (two groups) or within one replay, never thousands of events apart.
SEEN_KEEP = 1000
# Seconds between two receives from a channel layer whose Redis is away.
RECEIVE_RETRY = 1.0


def control_group(user_id: int) -> str:
    """The group every socket of `user_id` joins: notices about the user, no events."""
    return f"live.user.{user_id}"


def session_mark(session_key: str) -> str:
    """How a notice names a session: not by its key, which would open it."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]


def _surviving(receive: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
    """The channel layer's receive, retried while Redis is away instead of ending the
    consumer (core's raised, and the socket was closed with 1011; pubsub's retries by
    itself). The hub tells the client and hands out the events meanwhile."""

    async def receive_again() -> Any:
        while True:
            try:
                return await receive()
            except (RedisError, OSError) as error:
                log.debug("live map: receive from the channel layer failed: %s", error)
                await asyncio.sleep(RECEIVE_RETRY)

    return receive_again


class LiveConsumer(AsyncWebsocketConsumer):
    audience: Audience
    audience_groups: frozenset[str]
    user_id: int
    session_key: str
    fingerprint: Fingerprint | None
    upto: int
    seen: set[int]
    held: list[EventPayload]
    holding: bool
    closing: bool
    lock: asyncio.Lock
    ticker: asyncio.Task[None] | None

    # channels sets channel_receive in __call__, before the first message.
    @property
    def channel_receive(self) -> Callable[[], Awaitable[Any]]:
        return self._channel_receive

    @channel_receive.setter
    def channel_receive(self, receive: Callable[[], Awaitable[Any]]) -> None:
        self._channel_receive = _surviving(receive)

    async def connect(self) -> None:
        # Set before any refusal: disconnect() and the hub read them.
        self.audience, self.audience_groups, self.ticker = Audience(), frozenset(), None
        self.fingerprint, self.closing, self.upto = None, False, 0
        user = self.scope.get("user")
        session = self.scope.get("session")
        session_key = session.session_key if session is not None else None
        if user is None or not user.is_authenticated or not session_key:
            await self._refuse(CLOSE_UNAUTHENTICATED)
            return
        self.user_id, self.session_key = int(user.pk), str(session_key)
        code, audience, self.fingerprint = await database_sync_to_async(admission)(
            user, self.session_key
        )
        if code is not None:
            await self._refuse(code)
            return
        self._follow(audience)
        try:
            await self.join_groups()
        except (RedisError, OSError) as error:
            log.warning("live map: channel layer unreachable, connection refused: %s", error)
            await self._refuse(CLOSE_TRY_AGAIN)
            return
        # Read after joining: what commits from now on arrives live, what committed
        # before is at most `upto` and can be replayed.
        self.upto = await database_sync_to_async(last_seq)()
        self.seen, self.held, self.holding = set(), [], True
        self.lock = asyncio.Lock()
        await self._accept()
        await self._send({"type": "hello", "last_seq": self.upto})
        hub.join(self)
        self.ticker = asyncio.create_task(self._tick())

    async def disconnect(self, code: int) -> None:
        hub.leave(self)
        if self.ticker is not None:
            self.ticker.cancel()
        if self.fingerprint is None and not self.audience_groups:
            return  # refused before joining anything
        try:
            # Every group of the audience, also after a join that failed halfway:
            # leaving a group one never joined does nothing.
            for group in self._groups():
                await self.channel_layer.group_discard(group, self.channel_name)
        except (RedisError, OSError):
            pass  # with Redis gone, so are the groups' members; core expires them anyway

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            after = _resume_number(text_data)
        except ValueError:
            await self.shut(CLOSE_BAD_MESSAGE)
            return
        async with self.lock:
            if after is not None:
                await self._catch_up(after)
            await self._release()

    async def case_event(self, message: dict[str, Any]) -> None:
        """An event from the channel layer (incidents.outbox.MESSAGE_TYPE)."""
        event: EventPayload = message["event"]
        hub.heard = max(hub.heard, event["seq"])
        await self.offer(event)

    async def live_recheck(self, message: dict[str, Any]) -> None:
        """A notice to the user's control group (map_ui.live.notices): a session ended
        (the one named is closed at once) or the account or the post changed."""
        if message.get("session") == session_mark(self.session_key):
            await self.shut(CLOSE_UNAUTHENTICATED)
        else:
            await self.recheck()

    async def inbox_new(self, message: dict[str, Any]) -> None:
        """The user's inbox changed (notifications.collect): its unread count."""
        await self.say({"type": "inbox", "unread": int(message["unread"])})

    # --- what the hub calls -----------------------------------------------------------

    async def offer(self, event: EventPayload) -> None:
        if self.closing:
            return
        async with self.lock:
            if self.holding:
                self.held.append(event)
            else:
                await self._deliver(event)

    async def say(self, message: dict[str, Any]) -> None:
        if not self.closing:
            await self._send(message)

    async def shut(self, code: int) -> None:
        if self.closing:
            return
        self.closing = True
        hub.leave(self)
        await self.close(code=code)

    async def recheck(self) -> None:
        """Look at the user's access in full: close the socket if it ended or the post
        changed (the page's data is the old post's: it must reload)."""
        if self.closing:
            return
        try:
            code, _audience, fingerprint = await database_sync_to_async(reexamine)(
                self.user_id, self.session_key, self.audience
            )
        except DatabaseError as error:
            log.warning("live map: access not read, looking again later: %s", error)
            return
        if code is not None:
            await self.shut(code)
        else:
            self.fingerprint = fingerprint

    async def join_groups(self) -> None:
        for group in self._groups():
            await self.channel_layer.group_add(group, self.channel_name)

    # --- the rest ---------------------------------------------------------------------

    def _follow(self, audience: Audience) -> None:
        self.audience, self.audience_groups = audience, frozenset(audience.groups())

    def _groups(self) -> list[str]:
        return [*self.audience.groups(), control_group(self.user_id), inbox_group(self.user_id)]

    async def _refuse(self, code: int) -> None:
        # Accepted first, so that the client sees the close code (a refused handshake
        # shows only as 1006 in a browser).
        self.closing = True
        await self._accept()
        await self.close(code=code)

    async def _accept(self) -> None:
        # A browser that offered subprotocols (a token) fails a handshake that names none.
        offered = PROTOCOL in (self.scope.get("subprotocols") or ())
        await self.accept(subprotocol=PROTOCOL if offered else None)

    async def _send(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message, ensure_ascii=False))

    async def _deliver(self, event: EventPayload) -> None:
        seq = event["seq"]
        if seq in self.seen:
            return
        self.seen.add(seq)
        if len(self.seen) > 2 * SEEN_KEEP:
            self.seen = set(sorted(self.seen)[-SEEN_KEEP:])
        await self.send(text_data=_encoded(event))

    async def _release(self) -> None:
        """Send the live events held since connecting, in sequence order."""
        held, self.held, self.holding = self.held, [], False
        for event in sorted(held, key=lambda e: e["seq"]):
            await self._deliver(event)

    async def _catch_up(self, after: int) -> None:
        """Send the events numbered above `after` from the outbox, or "reload"."""
        missed = await database_sync_to_async(replay)(
            self.audience,
            after=after,
            max_events=settings.LIVE_REPLAY_MAX_EVENTS,
            max_age=timedelta(seconds=settings.LIVE_REPLAY_MAX_AGE),
            skip=self.seen,
        )
        if missed["reload"]:
            await self._send({"type": "reload", "reason": missed["reload"]})
        for event in missed["events"]:
            await self._deliver(event)
        self.upto = max(self.upto, missed["upto"])

    async def _tick(self) -> None:
        """Release held events if the client never resumes; then, now and then, read
        the outbox for events that another process could not publish and join the
        groups again (core's membership expires after a day)."""
        await asyncio.sleep(settings.LIVE_RESUME_WAIT)
        async with self.lock:
            if self.holding:
                await self._release()
        interval = settings.LIVE_CATCHUP_SECONDS
        if interval <= 0:
            return
        await asyncio.sleep(random.uniform(0, interval))  # noqa: S311 -- spreads the clients
        while not self.closing:
            try:
                await self.join_groups()
                async with self.lock:
                    await self._catch_up(self.upto)
            except (RedisError, OSError, DatabaseError) as error:
                log.warning("live map: catch-up failed, trying again later: %s", error)
            await asyncio.sleep(interval)


# The text of the last events, shared by the connections of this process: one event
# goes to up to thousands of them, and each would encode the same JSON again.
# Keyed by number and time: numbers start again in a restored (or test) database.
_ENCODED: dict[tuple[int, str], str] = {}
_ENCODED_KEEP = 256


def _encoded(event: EventPayload) -> str:
    key = (event["seq"], event["at"])
    text = _ENCODED.get(key)
    if text is None:
        if len(_ENCODED) >= _ENCODED_KEEP:
            _ENCODED.clear()  # cheaper than keeping an order; refilled within one event
        text = json.dumps({"type": "event", **event}, ensure_ascii=False)
        _ENCODED[key] = text
    return text


def _resume_number(text: str | None) -> int | None:
    """The number in {"type": "resume", "last_seq": N}: N, or None from a fresh client.
    ValueError if the message is not a valid resume."""
    message = json.loads(text or "")  # a JSONDecodeError is a ValueError
    if not isinstance(message, dict) or message.get("type") != "resume":
        raise ValueError("not a resume message")
    number = message.get("last_seq")
    if number is None:
        return None
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise ValueError("last_seq must be a whole number ≥ 0 or null")
    return number
