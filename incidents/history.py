"""Writing a case's history: one CaseEvent and one live event per state change."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from gridmgmt import clock
from incidents.models import Case, CaseEvent
from incidents.outbox import emit

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
    """Save `case` (already changed by the caller), append its history entry and queue
    its live event. Runs inside the caller's transaction, as its last writes.
    `unit_id`: the unit the entry is about when not the case's own (a co-unit's part,
    协办: the unit then sees the case, incidents.access.assigned, and gets its events).
    `save=False`: the caller records a second entry right after, in the same transaction,
    and that one saves the case for both (one UPDATE of the row, not two). `fields`: the
    columns the caller changed, when it knows them all: the UPDATE writes those and
    `updated_at`, not the row's ~70 columns."""
    now = clock.now()
    case.updated_at = now
    if save:
        case.save(update_fields=None if fields is None else {*fields, "updated_at"})
    event = CaseEvent.objects.create(
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
    emit(case, f"case.{action}", followers=new, part_unit=unit_id)
    return event
