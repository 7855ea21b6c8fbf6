"""Who answers for a component: its 主管部门, 权属单位 and 养护单位 as references to units.

Files and forms name a unit by its name or its code (Unit.code, e.g. 统一社会信用代码).
The text as given is kept beside the reference; where no unit matches, the reference
stays empty and `manage.py component_units` lists the text, with `--resolve` to match
again once the units exist. The rule for a record saved one at a time (admin, API,
accepted proposals), in `settle_units`: a reference chosen wins and names the text; a
text changed looks its unit up.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import Q

from layers.models.org import Unit

if TYPE_CHECKING:
    from layers.models.base import Component

# (text field, reference field) of each of a component's units.
OWNER_FIELDS: tuple[tuple[str, str], ...] = (
    ("competent_unit", "competent"),
    ("owner_unit", "owner"),
    ("maintainer_unit", "maintainer"),
)


def unit_lookup(texts: Iterable[str] | None = None) -> dict[str, int]:
    """Unit id by name and by code (a code wins over another unit's equal name), for
    `texts` only when given."""
    units = Unit.objects.all()
    if texts is not None:
        wanted = sorted({t for t in texts if t})
        units = units.filter(Q(name__in=wanted) | Q(code__in=wanted))
    rows = list(units.values_list("pk", "name", "code"))
    lookup = {name: pk for pk, name, _code in rows}
    lookup.update((code, pk) for pk, _name, code in rows if code)
    return lookup


def settle_units(component: Component, update_fields: Iterable[str] | None) -> list[str] | None:
    """Bring each text and reference of `component` in step before it is saved; returns
    the update_fields to save (with the partners of the fields named)."""
    pairs = OWNER_FIELDS
    if update_fields is not None:
        named = set(update_fields)
        pairs = tuple(p for p in OWNER_FIELDS if named & {p[0], p[1], f"{p[1]}_id"})
        if not pairs:
            return list(named)
    old = _old_values(component)
    lookups: list[tuple[str, str]] = []
    for text_field, ref_field in pairs:
        text = getattr(component, text_field).strip()
        setattr(component, text_field, text)
        ref_id = getattr(component, f"{ref_field}_id")
        old_text, old_ref = old.get(text_field, ""), old.get(f"{ref_field}_id")
        if ref_id != old_ref:
            # A unit was chosen (or cleared): it names the text, unless a new text came too.
            if ref_id is None:
                if text == old_text:
                    setattr(component, text_field, "")
            elif not text or text == old_text:
                setattr(component, text_field, getattr(component, ref_field).name)
        elif text != old_text:
            lookups.append((text_field, ref_field))
    if lookups:
        found = unit_lookup(getattr(component, t) for t, _ in lookups)
        for text_field, ref_field in lookups:
            setattr(component, f"{ref_field}_id", found.get(getattr(component, text_field)))
    if update_fields is None:
        return None
    return sorted(set(update_fields) | {f for pair in pairs for f in pair})


def _old_values(component: Component) -> dict[str, object]:
    if component._state.adding or component.pk is None:
        return {}
    fields = [f for text, ref in OWNER_FIELDS for f in (text, f"{ref}_id")]
    row = type(component)._default_manager.filter(pk=component.pk).values(*fields).first()
    return row or {}


def resolve_all() -> dict[str, int]:
    """Match again every component's unit texts that have no reference (after units were
    added or given codes); returns, per text field, how many references were set."""
    counts = {}
    with connection.cursor() as cursor:
        for text_field, ref_field in OWNER_FIELDS:
            cursor.execute(
                f"""
                UPDATE layers_component c SET {ref_field}_id = u.id
                FROM ({_MATCH}) u
                WHERE c.{ref_field}_id IS NULL AND c.{text_field} <> ''
                  AND u.text = c.{text_field}
                """
            )
            counts[text_field] = cursor.rowcount
    return counts


# Each text a unit answers to, one row per text: its code, else its name.
_MATCH = """
    SELECT DISTINCT ON (text) text, id FROM (
        SELECT code AS text, id, 0 AS rank FROM layers_unit WHERE code <> ''
        UNION ALL
        SELECT name, id, 1 FROM layers_unit
    ) t ORDER BY text, rank, id
"""


def unmatched() -> list[tuple[str, str, int]]:
    """(text field, text, number of components) of every unit text with no reference,
    most components first."""
    rows: list[tuple[str, str, int]] = []
    with connection.cursor() as cursor:
        for text_field, ref_field in OWNER_FIELDS:
            cursor.execute(
                f"""
                SELECT {text_field}, count(*) FROM layers_component
                WHERE {ref_field}_id IS NULL AND {text_field} <> ''
                GROUP BY 1
                """
            )
            rows += [(text_field, text, n) for text, n in cursor.fetchall()]
    return sorted(rows, key=lambda row: (-row[2], row[0], row[1]))
