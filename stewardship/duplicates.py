"""Duplicates among the base records (一数一源), found set-based in SQL:

- people, entities, components: the same key once trimmed and upper-cased (an ID number
  with a lower-case x beside the upper-case one, a code typed with a space);
- addresses and buildings: near-identical text (trigram similarity at least
  TEXT_SIMILARITY, pg_trgm) and points at most NEAR_METRES apart, in the same street
  (the street narrows the pairs to compare; two copies of one place across a street's
  border are not found).

merge() keeps the oldest record of a group, fills its empty fields from the others,
moves what points at them (cases naming an entity), keeps each removed record's values in
a MergedRecord and the changed fields in the kept record's history.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.forms.models import model_to_dict

from layers.models import Placed
from stewardship import layers as L
from stewardship.models import MergedRecord, SourceKind
from stewardship.recording import record_changes

TEXT_SIMILARITY = 0.8
NEAR_METRES = 30.0

KEYED = {"population": "id_number", "entities": "credit_code", "components": "code"}
TEXTUAL = {"addresses": "text", "buildings": "address_text"}


@dataclass(frozen=True)
class Group:
    layer: str
    reason: str
    ids: tuple[int, ...]  # the kept record first


def find(layer: str, *, area_field: str | None = None, area_id: int | None = None) -> list[Group]:
    """Groups of duplicates in `layer`, optionally only records placed in one area."""
    table = L.MODELS[layer]._meta.db_table
    where, params = "", list[float | int | None]()
    if area_field is not None:
        where = f'AND a."{area_field}" = %s'
        params = [area_id]
    if layer in KEYED:
        key = KEYED[layer]
        sql = f"""
            SELECT array_agg(a.id ORDER BY a.id)
            FROM {table} a WHERE true {where}
            GROUP BY upper(btrim(a."{key}")) HAVING count(*) > 1
        """
        reason = key
    else:
        text = TEXTUAL[layer]
        # Pairs, joined into groups below by their smallest id.
        sql = f"""
            SELECT ARRAY[a.id, b.id]
            FROM {table} a JOIN {table} b
              ON b.street_id = a.street_id AND b.id > a.id
             AND ST_DWithin(a.geom::geography, b.geom::geography, %s)
             AND similarity(lower(a."{text}"), lower(b."{text}")) >= %s
            WHERE a."{text}" <> '' {where}
        """
        params = [NEAR_METRES, TEXT_SIMILARITY, *params]
        reason = "text_and_point"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = [list(r[0]) for r in cursor.fetchall()]
    return [Group(layer, reason, tuple(ids)) for ids in _join(rows)]


def _join(rows: list[list[int]]) -> list[list[int]]:
    """Connected groups of ids from pairs or groups (union-find)."""
    parent: dict[int, int] = {}

    def root(i: int) -> int:
        while parent.setdefault(i, i) != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for ids in rows:
        for other in ids[1:]:
            a, b = root(ids[0]), root(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in parent:
        groups.setdefault(root(i), []).append(i)
    return [sorted(g) for g in sorted(groups.values(), key=min)]


@transaction.atomic
def merge(group: Group, *, user: object = None, unit_id: int | None = None) -> Placed:
    """Merge the group into its first record; returns the kept record."""
    model = L.MODELS[group.layer]
    records = {r.pk: r for r in model._default_manager.filter(pk__in=group.ids)}
    kept = records[group.ids[0]]
    old = L.record_values(kept, group.layer)
    removed = [records[i] for i in group.ids[1:] if i in records]
    for other in removed:
        for field in L.FIELDS[group.layer]:
            if getattr(kept, field) in ("", None) and getattr(other, field) not in ("", None):
                setattr(kept, field, getattr(other, field))
    new = L.record_values(kept, group.layer)
    source = record_changes(
        record=kept,
        old=old,
        new=new,
        always=True,
        kind=SourceKind.MERGE,
        user=user,  # type: ignore[arg-type]
        unit_id=unit_id,
        system="find_duplicates",
        note=f"{group.reason}: {', '.join(map(str, group.ids))}",
    )
    assert source is not None  # always=True
    for other in removed:
        values = model_to_dict(other, exclude=["geom"])
        values["geom"] = L.as_text(other.geom)
        MergedRecord.objects.create(
            source=source, layer=source.layer, kept_id=kept.pk, removed_id=other.pk,
            values={k: L.as_text(v) for k, v in values.items()},
        )  # fmt: skip
        _repoint(group.layer, other.pk, kept.pk)
        other.delete()
    # Fields filled from a duplicate: their history is the merge's Source.
    kept.save()
    return kept


def _repoint(layer: str, old_id: int, new_id: int) -> None:
    """What points at a removed record points at the kept one from now on."""
    if layer == "entities":
        from incidents.models import Case

        Case.objects.filter(entity_id=old_id).update(entity_id=new_id)
