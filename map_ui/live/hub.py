"""What the live sockets of one server process share: one timer that watches the
channel layer and the sockets' access for all of them (docs/websocket.md, "Ticks").

Every LIVE_RECHECK_SECONDS the hub
- pings the channel layer's Redis (its own connection, a short timeout: a dead or hung
  Redis is noticed within seconds, long before the layer's own reads time out). On the
  first failure every socket is told {"type": "status", "live": false}; while Redis is
  away the hub reads the outbox itself and hands each socket the events it may see.
  Once Redis answers, every socket joins its groups again (Redis may have restarted
  empty), gets the events committed meanwhile, and is told {"type": "status",
  "live": true}; the hub goes on reading the outbox for a few more ticks, for events
  whose publishing raced with the recovery;
- reads the access of all its sockets with one statement (map_ui.live.checks
  .fingerprints): a socket whose session ended or whose user was deactivated is closed
  at once, one whose user's post or password changed is examined in full.
A sign-out, a deactivation or a change of post is also pushed to the user's sockets
through the channel layer (map_ui.live.notices); the tick is what closes them within
seconds when that push is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import DatabaseError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from incidents.models import Outbox
from incidents.outbox import groups, last_seq
from map_ui.live.checks import CLOSE_UNAUTHENTICATED, fingerprints

if TYPE_CHECKING:
    from map_ui.live.consumers import LiveConsumer

log = logging.getLogger(__name__)

PING_TIMEOUT = 1.5  # seconds; a hung Redis (SIGSTOP) is a Redis that is away
GRACE_TICKS = 3  # ticks the outbox is still read after Redis came back
POLL_LIMIT = 5000  # outbox rows read per tick while Redis is away
HEARD_MARGIN = 100  # events before the last one heard that are read again after all


def _layer_address() -> str | None:
    """The Redis URL of the default channel layer, or None (an in-memory layer)."""
    config: dict[str, Any] = settings.CHANNEL_LAYERS.get("default", {})
    if "channels_redis" not in config.get("BACKEND", ""):
        return None
    host = config.get("CONFIG", {}).get("hosts", [None])[0]
    if isinstance(host, dict):
        return str(host.get("address") or "") or None
    return str(host) if host else None


def _outbox_after(cursor: int) -> tuple[list[Outbox], int]:
    """The committed events numbered above `cursor` (at most POLL_LIMIT), and the
    number up to which that is all of them."""
    upto = last_seq()
    columns = ("seq", "payload", "district_id", "street_id", "community_id", "cell_id")
    rows = list(
        Outbox.objects.filter(seq__gt=cursor, seq__lte=upto)
        .order_by("seq")
        .only(*columns, "unit_ids", "user_ids")[:POLL_LIMIT]
    )
    if len(rows) == POLL_LIMIT:
        upto = rows[-1].seq
    return rows, upto


class Hub:
    def __init__(self) -> None:
        self.members: set[LiveConsumer] = set()
        self.task: asyncio.Task[None] | None = None
        self.live = True  # the channel layer answers
        self.grace = 0
        self.cursor = 0  # while not live: every event up to here was handed out
        self.heard = 0  # the highest event number that came through the channel layer
        self._redis: tuple[asyncio.AbstractEventLoop, Redis] | None = None
        self.ticks = 0

    def join(self, consumer: LiveConsumer) -> None:
        self.members.add(consumer)
        loop = asyncio.get_running_loop()
        if self.task is None or self.task.done() or self.task.get_loop() is not loop:
            self.live, self.grace = True, 0  # a new loop: start from a clean state
            self.task = loop.create_task(self._run())

    def leave(self, consumer: LiveConsumer) -> None:
        self.members.discard(consumer)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(settings.LIVE_RECHECK_SECONDS)
            if not self.members:
                self.task = None  # the next socket starts it again
                return
            try:
                await self.tick()
            except Exception:  # the timer of every socket: it must outlive any fault
                log.exception("live map: tick failed")

    async def tick(self) -> None:
        self.ticks += 1
        await self._watch_layer()
        await self._check_access()
        if not self.live or self.grace:
            await self._hand_out()
            if self.live:
                self.grace -= 1

    # --- the channel layer ------------------------------------------------------------

    async def _ping(self) -> bool:
        address = _layer_address()
        if address is None:
            return True
        loop = asyncio.get_running_loop()
        if self._redis is None or self._redis[0] is not loop:
            client = Redis.from_url(
                address, socket_timeout=PING_TIMEOUT, socket_connect_timeout=PING_TIMEOUT
            )
            self._redis = (loop, client)
        try:
            await asyncio.wait_for(self._redis[1].ping(), PING_TIMEOUT)
        except (RedisError, OSError, TimeoutError):
            return False
        return True

    async def _watch_layer(self) -> None:
        up = await self._ping()
        if not up and self.live:
            log.warning("live map: the channel layer is unreachable; reading the outbox")
            self.live = False
            # What was heard live reached the sockets; what came after it may not have
            # been published. A margin for events of other processes that arrived in
            # another order: the sockets drop what they delivered already.
            lowest = min((m.upto for m in self.members), default=0)
            self.cursor = max(lowest, self.heard - HEARD_MARGIN)
            await self._tell_all({"type": "status", "live": False})
        elif up and not self.live:
            try:
                for member in list(self.members):
                    await member.join_groups()
            except (RedisError, OSError) as error:
                log.warning("live map: channel layer back, joining failed: %s", error)
                return
            await self._hand_out()  # what committed while it was away
            self.live, self.grace = True, GRACE_TICKS
            log.warning("live map: the channel layer answers again")
            await self._tell_all({"type": "status", "live": True})

    async def _tell_all(self, message: dict[str, Any]) -> None:
        for member in list(self.members):
            await _each(member.say(message))

    async def _hand_out(self) -> None:
        """Give each socket the outbox events after the cursor that it may see."""
        try:
            rows, upto = await database_sync_to_async(_outbox_after)(self.cursor)
        except DatabaseError as error:
            log.warning("live map: outbox not read: %s", error)
            return
        members = list(self.members)
        for row in rows:
            reaches = set(groups(row))
            for member in members:
                if not reaches.isdisjoint(member.audience_groups):
                    await _each(member.offer(row.payload))
        self.cursor = max(self.cursor, upto)
        for member in members:
            member.upto = max(member.upto, upto)

    # --- access -----------------------------------------------------------------------

    async def _check_access(self) -> None:
        members = [m for m in self.members if m.fingerprint is not None]
        sockets = {(m.user_id, m.session_key) for m in members}
        try:
            found = await database_sync_to_async(fingerprints)(sockets)
        except DatabaseError as error:
            log.warning("live map: access not read: %s", error)
            return
        for member in members:
            now = found.get((member.user_id, member.session_key))
            if now is None or not now.signed_in or not now.active:
                await _each(member.shut(CLOSE_UNAUTHENTICATED))
            elif now != member.fingerprint:
                await _each(member.recheck())


async def _each(action: Coroutine[Any, Any, None]) -> None:
    """One socket's part of a tick: a socket that went away meanwhile (its client hung
    up) must not cost the others theirs."""
    try:
        await action
    except Exception as error:  # whatever one socket raises, the others go on
        log.info("live map: a socket's part of the tick failed: %r", error)


hub = Hub()
