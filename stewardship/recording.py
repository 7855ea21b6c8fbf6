"""Writing down where data came from: one Source per import batch (its rows linked in
one statement), one Source per interactive change with a FieldChange per changed field."""

from __future__ import annotations

from typing import Any

from django.db import connection

from layers.importing.core import ImportResult
from layers.importing.specs import LayerSpec
from layers.models import Placed
from stewardship.layers import content_type
from stewardship.models import FieldChange, ImportedRow, Source, SourceKind


def record_import(
    sender: type[Placed],
    *,
    spec: LayerSpec,
    result: ImportResult,
    provenance: dict[str, Any],
    **kwargs: Any,
) -> Source:
    """Receiver of layers.importing.core.rows_written: the batch's Source with the range of
    ids it inserted, and the existing rows it changed linked by one INSERT. The rows an
    import writes carry updated_at = the transaction's now(); the inserted ones have the
    highest ids (the layer is locked, ids come from its sequence); after a first load
    (the layer was empty) they are all its rows."""
    written = f"FROM {spec.table} WHERE updated_at = now()"
    with connection.cursor() as cursor:
        first_id = last_id = None
        if result.first_load:  # every row of the table: two probes of its primary key
            cursor.execute(f"SELECT min(id), max(id) FROM {spec.table}")
            first_id, last_id = cursor.fetchone()
        elif result.inserted:
            cursor.execute(
                f"SELECT min(id), max(id) FROM (SELECT id {written} ORDER BY id DESC LIMIT %s) s",
                [result.inserted],
            )
            first_id, last_id = cursor.fetchone()
        batch = Source.objects.create(
            kind=SourceKind.IMPORT,
            layer=content_type(spec.model),
            unit_id=provenance.get("unit_id"),
            user_id=provenance.get("user_id"),
            system=str(provenance.get("system") or "import_layer")[:60],
            file_name=str(provenance.get("file_name") or "")[:255],
            inserted=result.inserted,
            first_id=first_id,
            last_id=last_id,
            updated=result.updated,
        )
        if result.updated:
            below = f" AND id < {int(first_id)}" if first_id is not None else ""
            cursor.execute(
                f"INSERT INTO {ImportedRow._meta.db_table} (object_id, source_id) "
                f"SELECT id, %s {written}{below}",
                [batch.pk],
            )
    return batch


def record_changes(
    *,
    record: Placed,
    old: dict[str, str],
    new: dict[str, str],
    kind: str,
    user: Any,
    unit_id: int | None,
    system: str,
    note: str = "",
    proposal_id: int | None = None,
    always: bool = False,
) -> Source | None:
    """A Source and the FieldChanges between `old` and `new` (None if nothing changed,
    unless `always`)."""
    changed = [f for f in new if old.get(f, "") != new[f]]
    if not changed and not always:
        return None
    ct = content_type(type(record))
    source = Source.objects.create(
        kind=kind,
        layer=ct,
        unit_id=unit_id,
        user=user,
        system=system,
        note=note[:500],
        proposal_id=proposal_id,
    )
    FieldChange.objects.bulk_create(
        FieldChange(
            source=source,
            layer=ct,
            object_id=record.pk,
            field=f,
            old=old.get(f, ""),
            new=new[f],
        )
        for f in changed
    )
    return source
