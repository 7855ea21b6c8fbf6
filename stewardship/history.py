"""Reading a record's provenance (selectors): its sources, newest first, each with the
fields it changed, personal data masked as layers.access masks the record itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from django.utils.translation import gettext_lazy as _

from layers.access import can_see_personal_data, personal_data_scope
from layers.models import Person, Placed
from stewardship import layers as L
from stewardship.models import (
    FieldChange,
    ImportedRow,
    MergedRecord,
    Proposal,
    Source,
    Verification,
)

if TYPE_CHECKING:
    from layers.access import AnyUser

_VERIFIED = _("现场核实")


class Change(TypedDict):
    key: str
    field: str
    old: str
    new: str


class Entry(TypedDict):
    source_id: int | None
    kind: str
    kind_display: str
    at: str
    user: str
    unit: str
    system: str
    file_name: str
    note: str
    proposal_id: int | None
    reviewer: str
    changes: list[Change]


def _unmasked(user: AnyUser, record: Placed) -> bool:
    if not isinstance(record, Person):
        return True
    return can_see_personal_data(user, record)


def _name(user: Any) -> str:
    if user is None:
        return ""
    return str(user.get_full_name() or user.get_username())


def record_history(user: AnyUser, record: Placed) -> list[Entry]:
    """Every source of `record` (which `user` may see), newest first."""
    model = type(record)
    ct = L.content_type(model)
    unmasked = _unmasked(user, record)
    changes: dict[int, list[Change]] = {}
    for change in FieldChange.objects.filter(layer=ct, object_id=record.pk).order_by("pk"):
        changes.setdefault(change.source_id, []).append(
            Change(
                key=change.field,
                field=str(
                    getattr(model._meta.get_field(change.field), "verbose_name", change.field)
                ),
                old=L.shown(model, change.field, change.old, unmasked=unmasked),
                new=L.shown(model, change.field, change.new, unmasked=unmasked),
            )
        )
    imported = ImportedRow.objects.filter(object_id=record.pk, source__layer=ct)
    merged = MergedRecord.objects.filter(layer=ct, kept_id=record.pk)
    inserted = Source.objects.filter(layer=ct, first_id__lte=record.pk, last_id__gte=record.pk)
    ids = {
        *changes,
        *imported.values_list("source_id", flat=True),
        *inserted.values_list("pk", flat=True),
        *merged.values_list("source_id", flat=True),
    }
    sources = Source.objects.filter(pk__in=ids).select_related("unit", "user")
    entries = [_entry(source, changes.get(source.pk, [])) for source in sources]
    _reviewers(entries)
    verifications = Verification.objects.filter(layer=ct, object_id=record.pk)
    for verification in verifications.select_related("user"):
        entries.append(_verified(verification))
    entries.sort(key=lambda e: e["at"], reverse=True)
    return entries


def _verified(verification: Verification) -> Entry:
    return Entry(
        source_id=None,
        kind="verify",
        kind_display=str(_VERIFIED),
        at=verification.at.isoformat(),
        user=_name(verification.user),
        unit="",
        system="",
        file_name="",
        note="",
        proposal_id=None,
        reviewer="",
        changes=[],
    )


def _entry(source: Source, changes: list[Change]) -> Entry:
    return Entry(
        source_id=source.pk,
        kind=source.kind,
        kind_display=str(source.get_kind_display()),
        at=source.at.isoformat(),
        user=_name(source.user),
        unit=source.unit.display_name if source.unit_id and source.unit else "",
        system=source.system,
        file_name=source.file_name,
        note=source.note,
        proposal_id=source.proposal_id,
        reviewer="",
        changes=changes,
    )


def _reviewers(entries: list[Entry]) -> None:
    ids = [e["proposal_id"] for e in entries if e["proposal_id"]]
    if not ids:
        return
    proposals = Proposal.objects.filter(pk__in=ids).select_related("reviewer")
    reviewers = {p.pk: _name(p.reviewer) for p in proposals}
    for entry in entries:
        if entry["proposal_id"]:
            entry["reviewer"] = reviewers.get(entry["proposal_id"], "")


def proposal_unmasked(user: AnyUser, proposal: Proposal) -> bool:
    """Whether `user` reads a proposal's personal fields unmasked: its proposer, and whoever
    may see the personal data of people placed where it lies (layers.access)."""
    if proposal.proposer_id == user.pk:
        return True
    scope = personal_data_scope(user)
    if isinstance(scope, bool):
        return scope
    return Proposal.objects.filter(scope, pk=proposal.pk).exists()
