"""Live events of the case loop: written to the Outbox table inside the transaction that
changed the case, sent to the channel layer only after it commits (house style
principle 4). A rolled-back change never reaches a map; a change saved while Redis is
down is not lost: clients read what they missed from the Outbox by sequence number.

Groups an event is sent to (a consumer joins those its user may see):
    cases.city                    every event (city-wide viewers)
    cases.area.<area id>          the case's district, street, community and cell
    cases.unit.<unit id>          its responsible and supervising units, and every unit
                                  it was assigned to before (they still see the case)
    cases.user.<user id>          its reporters and verifier

Audience is the other side: the groups a viewer joins, and the same thing as a filter on
the Outbox table, so that a replay from the outbox and the live events always agree.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, NamedTuple, TypedDict

from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from redis.exceptions import RedisError

from incidents.models import Case, CaseEvent, Outbox, OutboxCounter

log = logging.getLogger(__name__)

CITY_GROUP = "cases.city"
MESSAGE_TYPE = "case.event"  # the consumer method that receives it: case_event


class CaseSummary(TypedDict):
    id: int
    state: str
    category: str
    urgent: bool
    lon: float
    lat: float
    district_id: int
    street_id: int
    community_id: int
    cell_id: int
    unit_id: int | None
    due_at: str | None
    overdue: bool
    warned: bool


class EventPayload(TypedDict):
    seq: int
    kind: str
    at: str
    case: CaseSummary


def summary(case: Case) -> CaseSummary:
    """What a map needs to draw a case: no personal data."""
    return CaseSummary(
        id=case.pk,
        state=case.state,
        category=case.category.code,
        urgent=case.urgent,
        lon=case.geom.x,
        lat=case.geom.y,
        district_id=case.district_id,
        street_id=case.street_id,
        community_id=case.community_id,
        cell_id=case.cell_id,
        unit_id=case.unit_id,
        due_at=case.due_at.isoformat() if case.due_at else None,
        overdue=case.overdue,
        warned=case.warned,
    )


def _followers(case: Case) -> list[int]:
    users = {case.reporter_id, case.verifier_id}
    merged = Case.objects.filter(merged_into=case, reporter__isnull=False)
    users.update(merged.values_list("reporter_id", flat=True))
    return sorted(u for u in users if u is not None)


def _units(case: Case) -> list[int]:
    # Units that had the case earlier still see it (incidents.access.assigned), so they
    # are told when it changes, too.
    units = {case.unit_id, case.supervising_unit_id}
    earlier = CaseEvent.objects.filter(case=case, unit__isnull=False).values_list("unit_id")
    units.update(u for (u,) in earlier.distinct())
    return sorted(u for u in units if u is not None)


def _next_seq() -> int:
    # The counter row stays locked until the transaction ends, so sequence numbers are
    # handed out in commit order: a reader never sees seq n+1 before seq n. Writers of
    # case changes queue on it only for the last moments of their transactions.
    table = OutboxCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET last_seq = last_seq + 1 RETURNING last_seq")
        row = cursor.fetchone()
    if row is None:  # the migration creates the row; a hand-emptied table gets it back
        OutboxCounter.objects.create(pk=1, last_seq=1)
        return 1
    return int(row[0])


def emit(case: Case, kind: str, *, followers: list[int] | None = None) -> Outbox:
    """Record a live event about `case`; it is sent once the transaction commits.
    `followers`: the users following it, when the caller knows (a new case: its reporter).

    Call it last in the transaction that changed the case."""
    if not connection.in_atomic_block:
        raise RuntimeError("emit() must run inside the transaction that changed the case")
    now = timezone.now()
    unit_ids = _units(case)
    user_ids = _followers(case) if followers is None else followers
    drawn = summary(case)
    # Last: from here until commit this transaction holds the counter row, which every
    # other writer of a case waits for.
    seq = _next_seq()
    event = Outbox.objects.create(
        seq=seq,
        at=now,
        kind=kind,
        case=case,
        district_id=case.district_id,
        street_id=case.street_id,
        community_id=case.community_id,
        cell_id=case.cell_id,
        unit_ids=unit_ids,
        user_ids=user_ids,
        payload=EventPayload(seq=seq, kind=kind, at=now.isoformat(), case=drawn),
    )
    transaction.on_commit(lambda: publish(event))
    return event


def area_group(area_id: int) -> str:
    return f"cases.area.{area_id}"


def unit_group(unit_id: int) -> str:
    return f"cases.unit.{unit_id}"


def user_group(user_id: int) -> str:
    return f"cases.user.{user_id}"


def groups(event: Outbox) -> list[str]:
    areas = (event.district_id, event.street_id, event.community_id, event.cell_id)
    return [
        CITY_GROUP,
        *(area_group(a) for a in areas if a is not None),
        *(unit_group(u) for u in event.unit_ids),
        *(user_group(u) for u in event.user_ids),
    ]


@dataclass(frozen=True)
class Audience:
    """Whose events a viewer receives: all (city), or those of some areas (of any tier),
    units and followed users. Built by incidents.access.live_audience()."""

    city: bool = False
    areas: list[int] = field(default_factory=list)
    units: list[int] = field(default_factory=list)
    users: list[int] = field(default_factory=list)

    def groups(self) -> list[str]:
        """The channel-layer groups to join."""
        if self.city:
            return [CITY_GROUP]
        return [
            *(area_group(a) for a in self.areas),
            *(unit_group(u) for u in self.units),
            *(user_group(u) for u in self.users),
        ]

    def events(self) -> QuerySet[Outbox]:
        """The Outbox rows that reach these groups: groups() turned into a filter."""
        if self.city:
            return Outbox.objects.all()
        where = Q()
        if self.areas:
            for column in ("district_id", "street_id", "community_id", "cell_id"):
                where |= Q(**{f"{column}__in": self.areas})
        if self.units:
            where |= Q(unit_ids__overlap=self.units)
        if self.users:
            where |= Q(user_ids__overlap=self.users)
        return Outbox.objects.filter(where) if where else Outbox.objects.none()


def last_seq() -> int:
    """The number of the last committed event (0 when there is none)."""
    counter = OutboxCounter.objects.first()
    return counter.last_seq if counter is not None else 0


class Replay(TypedDict):
    """What a client missed: the events after its number (up to `upto`), or a reason to
    reload the map instead."""

    events: list[EventPayload]
    upto: int
    reload: Literal["", "too_old", "too_many", "unknown_seq"]


def replay(
    audience: Audience,
    *,
    after: int,
    max_events: int,
    max_age: timedelta,
    skip: Collection[int] = (),
) -> Replay:
    """The events of `audience` with a number above `after`, in sequence order, but for
    those numbered in `skip` (already delivered).

    Sequence numbers are handed out in commit order (_next_seq), so every event up to the
    committed counter is visible once the counter is: reading the counter first and then
    the rows up to it misses nothing, and what commits later arrives live."""
    upto = last_seq()
    if after > upto:  # a number this database never gave (restored from a backup?)
        return Replay(events=[], upto=upto, reload="unknown_seq")
    if after == upto:
        return Replay(events=[], upto=upto, reload="")
    first = Outbox.objects.filter(seq__gt=after).order_by("seq").values("seq", "at").first()
    if first is None or first["seq"] != after + 1 or first["at"] < timezone.now() - max_age:
        return Replay(events=[], upto=upto, reload="too_old")
    rows = audience.events().filter(seq__gt=after, seq__lte=upto).order_by("seq")
    if skip:
        rows = rows.exclude(seq__in=[s for s in skip if after < s <= upto])
    payloads = list(rows.values_list("payload", flat=True)[: max_events + 1])
    if len(payloads) > max_events:
        return Replay(events=[], upto=upto, reload="too_many")
    return Replay(events=payloads, upto=upto, reload="")


class Publisher:
    """Sends committed events to the channel layer from one daemon thread per process,
    with its own event loop: a request never waits for Redis, the layer's connections
    are kept between events, and the events of a process go out in the order they
    were committed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[Outbox | Notice] | None = None
        self.sent = 0
        self.failed = 0

    def submit(self, event: Outbox) -> None:
        loop, queue = self._start()
        loop.call_soon_threadsafe(queue.put_nowait, event)

    def tell(self, group: str, message: dict[str, Any]) -> None:
        """Send `message` (not an event: a notice to the consumers of `group`, such as
        map_ui.live's "look at your access again") in the same background thread."""
        loop, queue = self._start()
        loop.call_soon_threadsafe(queue.put_nowait, Notice(group, message))

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every submitted event was sent or failed (tests, shutdown)."""
        if self._loop is not None and self._queue is not None:
            asyncio.run_coroutine_threadsafe(self._queue.join(), self._loop).result(timeout)

    def _start(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue[Outbox | Notice]]:
        with self._lock:
            if self._loop is None or self._queue is None:
                loop = asyncio.new_event_loop()
                queue: asyncio.Queue[Outbox | Notice] = asyncio.Queue()
                ready = threading.Event()
                thread = threading.Thread(
                    target=self._run, args=(loop, queue, ready), name="outbox", daemon=True
                )
                thread.start()
                ready.wait()
                self._loop, self._queue = loop, queue
            return self._loop, self._queue

    def _run(
        self,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[Outbox | Notice],
        ready: threading.Event,
    ) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_until_complete(self._serve(queue))

    async def _serve(self, queue: asyncio.Queue[Outbox | Notice]) -> None:
        while True:
            event = await queue.get()
            try:
                if isinstance(event, Notice):
                    await _notify(event)
                elif await _send(event):
                    self.sent += 1
                else:
                    self.failed += 1
            finally:
                queue.task_done()


class Notice(NamedTuple):
    group: str
    message: dict[str, Any]


async def _notify(notice: Notice) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(notice.group, notice.message)
    except (RedisError, OSError) as error:
        # The consumers look again by themselves within seconds (map_ui.live.hub).
        log.warning("notice to %s not sent: %s", notice.group, error)


async def _send(event: Outbox) -> bool:
    layer = get_channel_layer()
    if layer is None:
        return False
    message = {"type": MESSAGE_TYPE, "event": event.payload}
    try:
        for group in groups(event):
            await layer.group_send(group, message)
    except (RedisError, OSError) as error:
        log.warning("live event %s not sent (clients will catch up): %s", event.seq, error)
        return False
    return True


publisher = Publisher()


def publish(event: Outbox) -> None:
    """Send a committed event to its groups, in the background. If the channel layer is
    unreachable the change is saved all the same, and clients catch up from the Outbox."""
    publisher.submit(event)
