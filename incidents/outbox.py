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
import json
import logging
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, NamedTuple, NotRequired, TypedDict

from channels.layers import get_channel_layer
from django.db import DatabaseError, connection, transaction
from django.db.models import Max, Q, QuerySet
from redis.exceptions import RedisError

from gridmgmt import clock
from incidents.models import Case, Outbox, OutboxCounter

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
    # The co-unit (协办) an event of its part is about (co_dispatch, co_sign, co_handle).
    part_unit_id: NotRequired[int]


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


# Units that had the case earlier still see it (incidents.access.assigned), so they are
# told when it changes too; and the reporters of reports merged into it follow it. Both
# are read by the INSERT itself: no round trips of the ORM. One row of the INSERT per
# event; several events of one request go in one INSERT (insert()). A row's units are
# those of the case's history as it stood when the event was emitted: `later` names the
# history rows written in the same batch after that (incidents.history.batched).
_COLUMNS = """
INSERT INTO incidents_outbox
    (at, kind, case_id, district_id, street_id, community_id, cell_id, unit_ids, user_ids,
     payload)
VALUES """
_ROW = """(%(at{n})s, %(kind{n})s, %(case{n})s, %(district{n})s, %(street{n})s,
    %(community{n})s, %(cell{n})s,
    ARRAY(SELECT u FROM (
        SELECT unit_id FROM incidents_caseevent WHERE case_id = %(case{n})s
            AND unit_id IS NOT NULL AND id <> ALL(%(later{n})s::bigint[])
        UNION SELECT unnest(%(units{n})s::bigint[])) AS t(u)
        WHERE u IS NOT NULL ORDER BY u),
    CASE WHEN %(known{n})s THEN %(users{n})s::bigint[] ELSE ARRAY(SELECT u FROM (
        SELECT reporter_id FROM incidents_case WHERE merged_into_id = %(case{n})s
        UNION SELECT unnest(%(users{n})s::bigint[])) AS t(u)
        WHERE u IS NOT NULL ORDER BY u) END,
    %(payload{n})s::jsonb)"""


def emit(
    case: Case, kind: str, *, followers: list[int] | None = None, part_unit: int | None = None
) -> None:
    """Record a live event about `case`; it is numbered and sent once the transaction
    commits. `followers`: the users following it, when the caller knows (a new case: its
    reporter). `part_unit`: the co-unit (协办) an event of its part is about; it is told.

    Call it last in the transaction that changed the case. The event has no number
    here: the writer takes no lock for it, and the sequencer numbers it after commit."""
    insert([row(case, kind, followers=followers, part_unit=part_unit)])


def row(
    case: Case, kind: str, *, followers: list[int] | None = None, part_unit: int | None = None
) -> dict[str, Any]:
    """emit()'s event as the values of its row, to be written by insert() in this
    transaction; its numbering after commit is arranged here."""
    if not connection.in_atomic_block:
        raise RuntimeError("emit() must run inside the transaction that changed the case")
    now = clock.now()
    payload: dict[str, Any] = {
        "seq": None, "kind": kind, "at": now.isoformat(), "case": summary(case)
    }  # fmt: skip
    if part_unit is not None:
        payload["part_unit_id"] = part_unit
    known = followers is not None
    users = followers if known else [case.reporter_id, case.verifier_id]
    # Once per transaction: not again where this level or an enclosing one has it (an
    # entry of a released inner savepoint runs at the commit all the same, but a test
    # that captures the callbacks of one block must find its own there).
    here = set(connection.savepoint_ids)
    registered = ((entry[0], entry[1]) for entry in connection.run_on_commit)
    if not any(f is _number_and_send and ids <= here for ids, f in registered):
        transaction.on_commit(_number_and_send)
    return {
        "at": now,
        "kind": kind,
        "case": case.pk,
        "district": case.district_id,
        "street": case.street_id,
        "community": case.community_id,
        "cell": case.cell_id,
        "units": [case.unit_id, case.supervising_unit_id, part_unit],
        "known": known,
        "users": users,
        "payload": json.dumps(payload, ensure_ascii=False),
        "later": [],
    }


def insert(rows: list[dict[str, Any]]) -> None:
    """Write the rows of row() in one statement, in their order (their ids, and so
    their numbers after commit, follow it)."""
    if not rows:
        return
    sql = _COLUMNS + ",\n".join(_ROW.format(n=n) for n in range(len(rows)))
    params = {
        f"{name}{n}": value for n, values in enumerate(rows) for name, value in values.items()
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# The sequencer's lock: one number, taken with pg_advisory_xact_lock (any 64-bit key that
# nothing else in the database uses).
SEQUENCER_LOCK = 0x6772_6964_7365_7101
SEQUENCE_BATCH = 1000

_NUMBER = """
WITH base AS (
    SELECT last_seq FROM incidents_outboxcounter ORDER BY id LIMIT 1
), todo AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n
    FROM incidents_outbox WHERE seq IS NULL ORDER BY id LIMIT %(limit)s
), numbered AS (
    UPDATE incidents_outbox o
    SET seq = base.last_seq + todo.n,
        payload = jsonb_set(o.payload, '{seq}', to_jsonb(base.last_seq + todo.n))
    FROM base, todo WHERE o.id = todo.id
    RETURNING o.seq, o.kind, o.district_id, o.street_id, o.community_id, o.cell_id,
              o.unit_ids, o.user_ids, o.payload
), counted AS (
    UPDATE incidents_outboxcounter c SET last_seq = c.last_seq + (SELECT count(*) FROM todo)
    WHERE c.id = (SELECT min(id) FROM incidents_outboxcounter)
      AND EXISTS (SELECT 1 FROM todo)
)
-- At least one row: whether the counter row exists, then the numbered events, if any.
SELECT EXISTS (SELECT 1 FROM base), numbered.*
FROM (SELECT 1) AS one LEFT JOIN numbered ON true ORDER BY numbered.seq
"""


def sequence(limit: int = SEQUENCE_BATCH) -> list[Outbox]:
    """Number the committed events that have no number yet, in order, and return them.

    The single sequencer (docs/websocket.md): under a transaction-scoped advisory lock,
    so one copy at a time in the whole database; the statement after the lock sees
    every event committed before it, and numbers them from the counter on, in the order
    they were written (`id`), with the counter moved in the same transaction. A reader
    that reads the counter and then the rows up to it sees every number below it. The
    lock is held for this short transaction only, never through a writer's commit.

    Runs after each writer's commit (emit registers it), and in the delivery worker's
    loop, which numbers what a process that died between its commit and its numbering
    left behind. Called inside a transaction that wrote events, it would number them
    and hold the lock until that transaction ends: correct, but the old bottleneck."""
    events = _pass(limit, wait=True)
    assert events is not None  # a pass that waits for the lock always gets it
    return events


def _pass(limit: int, *, wait: bool) -> list[Outbox] | None:
    """sequence()'s pass; `wait=False`: None at once, without numbering, when another
    pass holds the lock."""
    with transaction.atomic(), connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEQUENCER_LOCK])
        else:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEQUENCER_LOCK])
            if not cursor.fetchone()[0]:
                return None
        cursor.execute(_NUMBER, {"limit": limit})
        rows = cursor.fetchall()
        if rows[0][0]:
            return [_numbered(row[1:]) for row in rows if row[1] is not None]
    # A hand-emptied counter table: the migration's row comes back, after the last
    # number in the outbox, and the events are numbered on the next pass.
    last = Outbox.objects.aggregate(last=Max("seq"))["last"] or 0
    OutboxCounter.objects.get_or_create(pk=1, defaults={"last_seq": last})
    return _pass(limit, wait=wait)


def _numbered(row: tuple[Any, ...]) -> Outbox:
    seq, kind, district, street, community, cell, units, users, payload = row
    if isinstance(payload, str):
        payload = json.loads(payload)
    return Outbox(
        seq=seq, kind=kind, district_id=district, street_id=street, community_id=community,
        cell_id=cell, unit_ids=units, user_ids=users, payload=payload,
    )  # fmt: skip


# How many passes one writer's numbering makes at most, when events keep coming.
SEQUENCE_ROUNDS = 8


def _number_and_send() -> None:
    """After a writer's commit: number what is committed and send it to the groups.
    Whoever numbers an event sends it, so each event is sent once. Should the database
    fail here, the event is saved all the same and numbered by the next pass.

    Writers do not queue for the lock. One that finds a pass under way leaves its
    events to that pass: a pass looks for unnumbered events once it has let go of the
    lock, and goes round again if there are any. The writer committed before it tried,
    so the look, which comes after the try, sees its events (unless they are numbered
    already). After SEQUENCE_ROUNDS passes a writer stops: what it leaves, the next
    writer's pass numbers, or the delivery worker's."""
    for _ in range(SEQUENCE_ROUNDS):
        try:
            events = _pass(SEQUENCE_BATCH, wait=False)
            if events is None:
                return  # a pass under way looks again once it lets go
            for event in events:
                publish(event)
            if not _unnumbered():
                return
        except DatabaseError as error:
            log.warning("events not numbered yet (the next pass will): %s", error)
            return


_UNNUMBERED = f"SELECT EXISTS (SELECT 1 FROM {Outbox._meta.db_table} WHERE seq IS NULL)"


def _unnumbered() -> bool:
    """Whether a committed event waits for its number (the statement written out: the
    ORM's building of it cost 170 µs of CPU, more than twice the statement itself)."""
    with connection.cursor() as cursor:
        cursor.execute(_UNNUMBERED)
        return bool(cursor.fetchone()[0])


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

    The sequencer numbers committed events and moves the counter in one transaction, so
    every event up to the counter is visible once the counter is: reading the counter
    first and then the rows up to it misses nothing, and what is numbered later arrives
    live."""
    upto = last_seq()
    if after > upto:  # a number this database never gave (restored from a backup?)
        return Replay(events=[], upto=upto, reload="unknown_seq")
    if after == upto:
        return Replay(events=[], upto=upto, reload="")
    first = Outbox.objects.filter(seq__gt=after).order_by("seq").values("seq", "at").first()
    if first is None or first["seq"] != after + 1 or first["at"] < clock.now() - max_age:
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
