"""The live map's WebSocket: case events a user may see, in sequence order, with resume
from the outbox after a gap. The protocol is docs/websocket.md.

One connection holds:
- its audience (incidents.access.live_audience), read when it connects and again at
  every catch-up tick: a user deactivated or signed out meanwhile is disconnected, one
  whose post changed gets the groups of the new post;
- `upto`: every event it may see numbered up to `upto` was delivered, or the client had
  it already (its resume number, or the map it loaded before connecting);
- `seen`: the recent numbers it delivered, so that an event reaching it through two
  groups, or both live and from the outbox, goes out once.
Live events are held after connecting until the client's "resume" is answered, so that
the replay and the live events that follow arrive in sequence order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from redis.exceptions import RedisError

from incidents.access import live_audience
from incidents.outbox import Audience, EventPayload, last_seq, replay
from layers.auth import UserAndPostBackend
from map_ui.live.tokens import PROTOCOL

log = logging.getLogger(__name__)

# Close codes (docs/websocket.md). 4xxx are the application's own: 4000 + the HTTP status
# that means the same.
CLOSE_BAD_MESSAGE = 4400  # the client sent something that is not a valid "resume"
CLOSE_UNAUTHENTICATED = 4401  # no session and no valid token
CLOSE_FORBIDDEN = 4403  # signed in, but may see no cases (no post, data admin)
CLOSE_TRY_AGAIN = 1013  # the channel layer (Redis) is unreachable: reconnect later

# How many delivered numbers a connection remembers to drop duplicates: duplicates come
# within moments (two groups) or within one replay, never thousands of events apart.
SEEN_KEEP = 1000


class LiveConsumer(AsyncWebsocketConsumer):
    audience: Audience
    upto: int
    seen: set[int]
    held: list[EventPayload]
    holding: bool
    lock: asyncio.Lock
    ticker: asyncio.Task[None] | None

    async def connect(self) -> None:
        # Set before any refusal: disconnect() reads them.
        self.audience, self.ticker = Audience(), None
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(CLOSE_UNAUTHENTICATED)
            return
        self.audience = await database_sync_to_async(live_audience)(user)
        if not self.audience.groups():
            await self._refuse(CLOSE_FORBIDDEN)
            return
        try:
            await self._join()
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
        self.ticker = asyncio.create_task(self._tick())

    async def disconnect(self, code: int) -> None:
        if self.ticker is not None:
            self.ticker.cancel()
        try:
            # Every group of the audience, also after a join that failed halfway:
            # leaving a group one never joined does nothing.
            for group in self.audience.groups():
                await self.channel_layer.group_discard(group, self.channel_name)
        except (RedisError, OSError):
            pass  # with Redis gone, so are the groups' members; core expires them anyway

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            after = _resume_number(text_data)
        except ValueError:
            await self.close(code=CLOSE_BAD_MESSAGE)
            return
        async with self.lock:
            if after is not None:
                await self._catch_up(after)
            await self._release()

    async def case_event(self, message: dict[str, Any]) -> None:
        """An event from the channel layer (incidents.outbox.MESSAGE_TYPE)."""
        event: EventPayload = message["event"]
        async with self.lock:
            if self.holding:
                self.held.append(event)
            else:
                await self._deliver(event)

    async def _refuse(self, code: int) -> None:
        # Accepted first, so that the client sees the close code (a refused handshake
        # shows only as 1006 in a browser).
        await self._accept()
        await self.close(code=code)

    async def _accept(self) -> None:
        # A browser that offered subprotocols (a token) fails a handshake that names none.
        offered = PROTOCOL in (self.scope.get("subprotocols") or ())
        await self.accept(subprotocol=PROTOCOL if offered else None)

    async def _join(self) -> None:
        for group in self.audience.groups():
            await self.channel_layer.group_add(group, self.channel_name)

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
        the outbox for events missed while the channel layer was unreachable and join
        the groups again (core's membership expires after a day)."""
        await asyncio.sleep(settings.LIVE_RESUME_WAIT)
        async with self.lock:
            if self.holding:
                await self._release()
        interval = settings.LIVE_CATCHUP_SECONDS
        if interval <= 0:
            return
        await asyncio.sleep(random.uniform(0, interval))  # noqa: S311 -- spreads the clients
        while True:
            try:
                if not await self._recheck():
                    return
                await self._join()
                async with self.lock:
                    await self._catch_up(self.upto)
            except (RedisError, OSError, DatabaseError) as error:
                log.warning("live map: catch-up failed, trying again later: %s", error)
            await asyncio.sleep(interval)

    async def _recheck(self) -> bool:
        """Read the user and their post again. Closes the connection (and returns False)
        for a user who may no longer have it; leaves the groups of an old post."""
        code, audience = await database_sync_to_async(_still_allowed)(self.scope)
        if code is not None:
            await self.close(code=code)
            return False
        stale = set(self.audience.groups()) - set(audience.groups())
        self.audience = audience  # what _join() and the next catch-up use
        for group in sorted(stale):
            await self.channel_layer.group_discard(group, self.channel_name)
        return True


def _still_allowed(scope: dict[str, Any]) -> tuple[int | None, Audience]:
    """(None, the audience now) for a connection whose user may still have it, else
    (the close code, no audience): signed out (the session is gone), deactivated or
    deleted (4401), no case to see any more (4403)."""
    session = scope.get("session")
    if session is not None and session.session_key and not session.exists(session.session_key):
        return CLOSE_UNAUTHENTICATED, Audience()
    user = UserAndPostBackend().get_user(scope["user"].pk)
    if user is None:
        return CLOSE_UNAUTHENTICATED, Audience()
    audience = live_audience(user)
    if not audience.groups():
        return CLOSE_FORBIDDEN, audience
    return None, audience


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
