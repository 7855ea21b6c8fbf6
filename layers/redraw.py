"""Redrawing grid cells (网格调整) and placing again what the change touched.

A cell is never edited in place: cases point at the cell they were filed in. Redrawing
retires the old row (valid_to) and creates a successor with the same code, name and
parent and the new boundary, valid from the given day. Then every base record inside the
old or the new boundary is placed again, with the same rules as an import.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon
from django.db import connection, transaction
from django.utils import timezone

from layers.importing.cells import CellIndex
from layers.models import Address, Area, Building, Component, LegalEntity, Person, Placed, Tier
from layers.placement import rebuild_pieces

BASE_LAYERS: tuple[type[Placed], ...] = (Person, LegalEntity, Component, Address, Building)


class RedrawError(ValueError):
    pass


@dataclass
class RedrawResult:
    retired: list[Area] = field(default_factory=list)
    created: list[Area] = field(default_factory=list)
    replaced: dict[str, int] = field(default_factory=dict)  # layer → records re-placed


@transaction.atomic
def redraw_cells(boundaries: dict[str, GEOSGeometry], *, valid_from: dt.date) -> RedrawResult:
    """Give the current cells named by code their new (multi)polygons from `valid_from`,
    which may not be in the future: placements follow the new boundaries at once."""
    if valid_from > timezone.localdate():
        raise RedrawError(f"a redraw takes effect when it is made; {valid_from} is in the future")
    result = RedrawResult()
    cells = {a.code: a for a in Area.objects.current().filter(tier=Tier.CELL, code__in=boundaries)}
    unknown = sorted(set(boundaries) - set(cells))
    if unknown:
        raise RedrawError(f"no current grid cell with code {', '.join(unknown)}")
    region: GEOSGeometry | None = None
    for code, geom in sorted(boundaries.items()):
        old = cells[code]
        if not geom.valid:
            raise RedrawError(f"new boundary of {code} is not valid: {geom.valid_reason}")
        if valid_from <= old.valid_from:
            raise RedrawError(f"{code} is valid from {old.valid_from}; a redraw must start later")
        old.valid_to = valid_from
        old.save(update_fields=["valid_to"])
        new = Area.objects.create(
            tier=Tier.CELL,
            code=code,
            name=old.name,
            name_en=old.name_en,
            parent=old.parent,
            geom=geom if isinstance(geom, MultiPolygon) else MultiPolygon(geom, srid=geom.srid),
            valid_from=valid_from,
        )
        result.retired.append(old)
        result.created.append(new)
        changed = old.geom.union(new.geom)
        region = changed if region is None else region.union(changed)
    rebuild_pieces()
    if region is not None:
        index = CellIndex()
        for model in BASE_LAYERS:
            result.replaced[model._meta.model_name or ""] = _replace(model, region, index)
    return result


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
