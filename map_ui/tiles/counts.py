"""Per-cell counts and label points behind the aggregated (low-zoom) tiles.

Counting millions of records per tile request would take seconds, so the counts per
current cell are kept in TileCount, and the label point and size of every current cell
and community in TileLabel. They are derived data with one invalidation rule: a layer's
counts are valid while TileVersion.counted equals its version (bumped by a trigger on
every write to the source table); the labels while the `areas` row's counted equals its
version. Another trigger marks the cells each write touched (TileDirty), so a save
recounts its cell, not the layer. refresh() brings what is behind up to date: the bulk
commands call it once they are done (layers.signals.bulk_written), the tile view before
an aggregated tile.
One refresher at a time (an advisory lock); while one runs, the others serve the counts
as they are and mark their response not to be cached.
"""

from __future__ import annotations

import functools
import time

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from layers.importing.specs import LayerSpec
from layers.importing.writer import StandIn
from layers.models import Area, Component, LegalEntity, Person, Placed, Tier
from map_ui.tiles.models import TileCount, TileDirty, TileLabel, TileVersion
from map_ui.tiles.versions import current

COUNTED: dict[str, type[Placed]] = {
    "components": Component,
    "entities": LegalEntity,
    "population": Person,
}
# pg_advisory_xact_lock key of the refresher ("tiles" in ASCII).
LOCK_KEY = 0x74696C6573
# Above this many marked cells one pass over the whole layer is cheaper than a count per
# cell (and an import marks them all).
RECOUNT_CELLS_MAX = 2000


def refresh(*, wait: bool = True) -> bool:
    """Bring the labels and every layer's counts up to date. Returns False when `wait`
    is off and another refresher holds the lock (nothing was done)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        else:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
            row = cursor.fetchone()
            if not row or not row[0]:
                return False
        # Read the versions after taking the lock: the previous holder may have done
        # the work. A write that commits while we count bumps the version past the
        # one recorded below, so it is counted again next time, never lost.
        rows = TileVersion.objects.values_list("name", "version", "counted")
        seen = {name: version for name, version, _ in rows}
        never = {name for name, _, counted in rows if counted == 0}
        behind = set(current().behind)
        if "areas" in behind:
            _rebuild_cells(cursor)
            behind |= set(COUNTED)  # the cells themselves may have changed
            never |= set(COUNTED)
        for layer in sorted(behind & set(COUNTED)):
            _count(cursor, layer, everything=layer in never or layer not in seen)
        for name in behind:
            # Only `counted`: the version belongs to the trigger, and may have moved on.
            if not TileVersion.objects.filter(name=name).update(counted=seen.get(name, 1)):
                TileVersion.objects.get_or_create(name=name, defaults={"counted": 1})
    return True


def refresh_after_bulk_write(**_: object) -> str:
    """layers.signals.bulk_written: an import's counts are made by the import command,
    not by the first map request after it (seconds at city scale)."""
    start = time.perf_counter()
    refresh()
    return f"tile counts and labels up to date in {time.perf_counter() - start:.1f} s"


# The trigger of migration 0002 that marks the cells of the rows an INSERT wrote.
MARK_INSERTED = "map_ui_tile_dirty_insert"


def stand_in_for_marks(spec: LayerSpec, **_: object) -> StandIn | None:
    """layers.importing.writer.first_load: a first load into an empty counted layer marks
    the cells it filled once, instead of the trigger reading back every row it wrote."""
    if spec.name not in COUNTED:
        return None
    return StandIn(MARK_INSERTED, functools.partial(mark_cells, spec.name))


def mark_cells(layer: str, cells: list[int]) -> None:
    """Mark `cells` of `layer` as the insert trigger would (NULL cells are never marked)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TileDirty._meta.db_table} (layer, cell_id) "
            "SELECT %s, cell FROM unnest(%s::bigint[]) cell WHERE cell IS NOT NULL "
            "ON CONFLICT DO NOTHING",
            [layer, cells],
        )


def _rebuild_cells(cursor: CursorWrapper) -> None:
    labels, counts, areas = (
        TileLabel._meta.db_table,
        TileCount._meta.db_table,
        Area._meta.db_table,
    )
    run = cursor.execute
    run(f"DELETE FROM {labels}")
    run(f"DELETE FROM {counts}")
    # ST_PointOnSurface, not the centroid: a concave community's centroid can lie in
    # its neighbour. Sizes on the spheroid, in km².
    run(
        f"""
        INSERT INTO {labels} (area_id, tier, code, point, km2)
        SELECT id, tier, code, ST_PointOnSurface(geom), ST_Area(geom::geography) / 1e6
        FROM {areas} WHERE valid_to IS NULL AND tier IN (%s, %s)
        """,
        [Tier.CELL, Tier.COMMUNITY],
    )
    run(
        f"""
        INSERT INTO {counts} (cell_id, community_id, street_id, district_id,
                              components, entities, population)
        SELECT cell.id, community.id, street.id, street.parent_id, 0, 0, 0
        FROM {areas} cell
        JOIN {areas} community ON community.id = cell.parent_id
        JOIN {areas} street ON street.id = community.parent_id
        WHERE cell.valid_to IS NULL AND cell.tier = %s
        """,
        [Tier.CELL],
    )
    run(f"ANALYZE {labels}")


def _count(cursor: CursorWrapper, layer: str, *, everything: bool) -> None:
    """Recount the cells the layer's trigger marked (TileDirty), or all of them."""
    counts, dirty = TileCount._meta.db_table, TileDirty._meta.db_table
    source = COUNTED[layer]._meta.db_table
    cursor.execute(f"DELETE FROM {dirty} WHERE layer = %s RETURNING cell_id", [layer])
    cells = [cell for (cell,) in cursor.fetchall()]
    if not everything and None not in cells and len(cells) <= RECOUNT_CELLS_MAX:
        cursor.execute(
            f"""
            UPDATE {counts} t SET {layer} = (
                SELECT count(*) FROM {source} s WHERE s.cell_id = t.cell_id
            ) WHERE t.cell_id = ANY(%s)
            """,
            [cells],
        )
        return
    # One pass over the layer's cell index; cells left with no record go back to 0.
    cursor.execute(
        f"""
        UPDATE {counts} t SET {layer} = coalesce(n.n, 0)
        FROM {counts} c LEFT JOIN (
            SELECT cell_id, count(*) AS n FROM {source} WHERE cell_id IS NOT NULL
            GROUP BY cell_id
        ) n ON n.cell_id = c.cell_id
        WHERE t.cell_id = c.cell_id AND t.{layer} IS DISTINCT FROM coalesce(n.n, 0)
        """
    )
