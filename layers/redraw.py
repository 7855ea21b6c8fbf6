"""Redrawing areas (网格调整, 区划调整) and placing again what the change touched.

An area is never edited in place: cases point at the area they were filed in. Redrawing
retires the old row (valid_to) and creates a successor with the same code and the new
boundary, valid from the given day. The successor takes over what was assigned to the old
row (children, inspectors' cells, units' areas, routing rules); then every base record
inside the old or the new boundary is placed again, with the same rules as an import.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from django.db import connection, transaction

from gridmgmt import clock
from layers.importing.cells import CellIndex
from layers.models import (
    Address,
    Area,
    Building,
    Component,
    LegalEntity,
    Person,
    Placed,
    Staff,
    Tier,
    Unit,
)
from layers.signals import announce_access_change, areas_succeeded

BASE_LAYERS: tuple[type[Placed], ...] = (Person, LegalEntity, Component, Address, Building)


class RedrawError(ValueError):
    pass


@dataclass
class RedrawResult:
    retired: list[Area] = field(default_factory=list)
    created: list[Area] = field(default_factory=list)
    replaced: dict[str, int] = field(default_factory=dict)  # layer → records re-placed
    followed: dict[str, int] = field(default_factory=dict)  # what followed the successors


@dataclass(frozen=True)
class Change:
    """What a redraw gives the successor of a current area: a new boundary, and, where
    given, a new name, English name or parent (the rest is the old row's)."""

    geom: GEOSGeometry
    name: str | None = None
    name_en: str | None = None
    parent: Area | None = None


@transaction.atomic
def redraw_cells(boundaries: dict[str, GEOSGeometry], *, valid_from: dt.date) -> RedrawResult:
    """Give the current cells named by code their new (multi)polygons from `valid_from`,
    which may not be in the future: placements follow the new boundaries at once."""
    cells = set(
        Area.objects.current()
        .filter(tier=Tier.CELL, code__in=boundaries)
        .values_list("code", flat=True)
    )
    unknown = sorted(set(boundaries) - cells)
    if unknown:
        raise RedrawError(f"no current grid cell with code {', '.join(unknown)}")
    return redraw_areas({code: Change(geom) for code, geom in boundaries.items()}, valid_from)


@transaction.atomic
def redraw_areas(changes: dict[str, Change], valid_from: dt.date) -> RedrawResult:
    """Redraw current areas of any tier, named by code (a dated redraw, 区划调整): each old
    row is retired on `valid_from` and a successor with the same code takes the change.

    What follows (docs/areas.md): the successor gets the old area's pieces' place at once
    (layers.placement), the current children of the old area hang under the successor,
    inspectors' cells and units' areas that named the old area name the successor, and
    every base record inside the old or the new boundary is placed again. Cases keep the
    areas they were filed in (the retired rows stay, with their valid_to)."""
    if valid_from > clock.localdate():
        raise RedrawError(f"a redraw takes effect when it is made; {valid_from} is in the future")
    result = RedrawResult()
    current = {a.code: a for a in Area.objects.current().filter(code__in=changes)}
    unknown = sorted(set(changes) - set(current))
    if unknown:
        raise RedrawError(f"no current area with code {', '.join(unknown)}")
    region: GEOSGeometry | None = None
    pairs: list[tuple[Area, Area]] = []
    for code, change in sorted(changes.items()):
        old = current[code]
        geom = change.geom
        if not geom.valid:
            raise RedrawError(f"new boundary of {code} is not valid: {geom.valid_reason}")
        if valid_from <= old.valid_from:
            raise RedrawError(f"{code} is valid from {old.valid_from}; a redraw must start later")
        old.valid_to = valid_from
        old.save(update_fields=["valid_to"])
        new = Area.objects.create(
            tier=old.tier,
            code=code,
            name=change.name if change.name is not None else old.name,
            name_en=change.name_en if change.name_en is not None else old.name_en,
            parent=change.parent if change.parent is not None else old.parent,
            geom=geom if isinstance(geom, MultiPolygon) else MultiPolygon(geom, srid=geom.srid),
            valid_from=valid_from,
        )
        result.retired.append(old)
        result.created.append(new)
        pairs.append((old, new))
        changed = old.geom.union(new.geom)
        region = changed if region is None else region.union(changed)
    result.followed = follow_successors(pairs)
    if region is not None:
        result.replaced = place_again(region)
    return result


def place_again(region: GEOSGeometry) -> dict[str, int]:
    """Place again every base record inside `region` (storage SRID) on the current
    pieces; returns, per layer, how many records changed placement."""
    index = CellIndex()
    return {model._meta.model_name or "": _replace(model, region, index) for model in BASE_LAYERS}


def follow_successors(pairs: list[tuple[Area, Area]]) -> dict[str, int]:
    """Move what is assigned to each retired area to its successor: current child areas,
    inspectors' cells (Staff.cells), units' areas (Unit.area) and what other apps scope
    to areas (layers.signals.areas_succeeded: routing rules). Counts per kind."""
    through = Staff.cells.through
    counts = {"children": 0, "inspectors": 0, "units": 0}
    users: set[int] = set()
    for old, new in pairs:
        counts["children"] += Area.objects.current().filter(parent=old).update(parent=new)
        staff_ids = list(through.objects.filter(area_id=old.pk).values_list("staff_id", flat=True))
        if staff_ids:
            through.objects.bulk_create(
                [through(staff_id=s, area_id=new.pk) for s in staff_ids], ignore_conflicts=True
            )
            through.objects.filter(area_id=old.pk).delete()
            users.update(Staff.objects.filter(pk__in=staff_ids).values_list("user_id", flat=True))
            counts["inspectors"] += len(staff_ids)
        unit_users = Staff.objects.filter(unit__area=old).values_list("user_id", flat=True)
        users.update(unit_users)
        counts["units"] += Unit.objects.filter(area=old).update(area=new)
    for _receiver, said in areas_succeeded.send(sender=Area, pairs=pairs):
        if isinstance(said, dict):
            for what, n in said.items():
                counts[what] = counts.get(what, 0) + n
    # Their access changed (a live map scoped to the old cell ends, layers.signals).
    announce_access_change(sorted(users))
    return counts


def _replace(model: type[Placed], region: GEOSGeometry, index: CellIndex) -> int:
    """Place again the records of `model` inside `region`; returns how many changed."""
    rows = list(model._default_manager.filter(geom__intersects=region).values_list("pk", "geom"))
    if not rows:
        return 0
    ids = np.array([pk for pk, _ in rows], dtype=np.int64)
    located = index.locate([g.x for _, g in rows], [g.y for _, g in rows])
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} t SET cell_id = u.cell, community_id = u.community,
                   street_id = u.street, district_id = u.district, updated_at = now()
            FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[])
                 AS u(id, cell, community, street, district)
            WHERE t.id = u.id AND (t.cell_id, t.community_id, t.street_id, t.district_id)
                  IS DISTINCT FROM (u.cell, u.community, u.street, u.district)
            """,
            [
                ids.tolist(),
                *(
                    [None if v == 0 else int(v) for v in values]
                    for values in (
                        located.cell_id,
                        located.community_id,
                        located.street_id,
                        located.district_id,
                    )
                ),
            ],
        )
        return cursor.rowcount
