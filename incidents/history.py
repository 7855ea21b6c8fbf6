"""Writing a case's history: one CaseEvent and one live event per state change.

Inside batched() (the intake's savepoint: a report, and 自动立案派遣 with it) the
entries and the live events are collected and written when the block ends, one INSERT
for all the history rows and one for all the outbox rows, in the order they were
recorded: ids, and so the history's order and the events' numbers after commit, are
what one INSERT per entry gave. The history stays append-only (INSERTs only).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gridmgmt import clock
from incidents import case_insert, outbox
from incidents.models import Case, CaseEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from layers.models import Staff


def record(
    case: Case,
    *,
    action: str,
    from_state: str,
    actor: User | None,
    staff: Staff | None,
    note: str = "",
    data: dict[str, Any] | None = None,
    unit_id: int | None = None,
    save: bool = True,
    fields: Collection[str] | None = None,
) -> CaseEvent:
    """Save `case` (already changed by the caller; a new one is inserted by
    incidents.case_insert, as Model.save() would), append its history entry and queue
    its live event. Runs inside the caller's transaction, as its last writes.
    `unit_id`: the unit the entry is about when not the case's own (a co-unit's part,
    协办: the unit then sees the case, incidents.access.assigned, and gets its events).
    `save=False`: the caller records a second entry right after, in the same transaction,
    and that one saves the case for both (one UPDATE of the row, not two). `fields`: the
    columns the caller changed, when it knows them all: the UPDATE writes those and
    `updated_at`, not the row's ~70 columns."""
    now = clock.now()
    case.updated_at = now
    if save and case._state.adding:
        case_insert.insert(case)  # a new case (a report): its INSERT's text kept per process
    elif save:
        case.save(update_fields=None if fields is None else {*fields, "updated_at"})
    event = CaseEvent(
        case=case,
        at=now,
        actor=actor,
        actor_unit_id=staff.unit_id if staff else None,
        action=action,
        from_state=from_state,
        to_state=case.state,
        unit_id=unit_id or case.unit_id,
        note=note,
        data=data or {},
    )
    # A case just reported has no merged reports yet: its only follower is its reporter.
    new = [case.reporter_id] if action == "report" and case.reporter_id else None
    pending = _pending.get()
    if pending is None:
        event.save(force_insert=True)
        outbox.emit(case, f"case.{action}", followers=new, part_unit=unit_id)
    else:
        pending.events.append(event)
        live = outbox.row(case, f"case.{action}", followers=new, part_unit=unit_id)
        pending.live.append((len(pending.events), live))
    return event


@dataclass
class _Pending:
    events: list[CaseEvent] = field(default_factory=list)
    # Each live event with the number of entries recorded up to it (its own included).
    live: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


_pending: ContextVar[_Pending | None] = ContextVar("history_pending", default=None)


@contextmanager
def batched() -> Iterator[None]:
    """Collect the entries and live events that record() makes in the block and write
    them at its end (flush()); on an error nothing is written. Use it inside the
    block's transaction (savepoint), around all of the block's writes: an entry
    returned by record() has its id only once flushed."""
    token = _pending.set(_Pending())
    try:
        yield
        flush()
    finally:
        _pending.reset(token)


def flush() -> None:
    """Write what batched() has collected so far: the entries in one INSERT (their ids
    come back in order), then the live events in one INSERT, each seeing the history as
    it stood when it was emitted (not the entries recorded after it). A caller that
    needs an entry's id before the block ends (a photo row) flushes first."""
    pending = _pending.get()
    if pending is None or not pending.events:
        return
    CaseEvent.objects.bulk_create(pending.events)
    ids = [event.pk for event in pending.events]
    rows = []
    for count, live in pending.live:
        live["later"] = ids[count:]
        rows.append(live)
    outbox.insert(rows)
    pending.events.clear()
    pending.live.clear()
