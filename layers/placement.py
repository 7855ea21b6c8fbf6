"""Placement (入格): which cell, community, street and district a point lies in.

Border-inclusive: a point on the border between two cells is covered by both, and the
cell with the lower code wins, so the answer never depends on table order. Interactive
paths call place_point(); bulk imports use layers.importing.cells.CellIndex, which gives the
same answers for millions of points at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.contrib.gis.geos import Point
from django.db import connection
from django.db.models.signals import post_save
from django.utils.translation import gettext as _

from layers.models import Area, AreaPiece, Tier

# ST_Subdivide's vertex budget per piece: small pieces make the GiST index precise.
PIECE_MAX_VERTICES = 64


class OutsideCity(ValueError):
    """The point lies in no grid cell of the city. Its text is in the user's language."""


@dataclass(frozen=True)
class Placement:
    cell: Area
    community: Area
    street: Area
    district: Area


def place_point(point: Point) -> Placement:
    """The current cell covering `point` (storage SRID) and its ancestors."""
    piece = (
        AreaPiece.objects.filter(tier=Tier.CELL, geom__covers=point)
        .select_related("area__parent__parent__parent")
        .order_by("area__code")
        .first()
    )
    if piece is None:
        raise OutsideCity(
            _("位置（%(lon).6f, %(lat).6f）不在本市任何网格内。") % {"lon": point.x, "lat": point.y}
        )
    cell = piece.area
    community = cell.parent
    street = community.parent if community else None
    district = street.parent if street else None
    if community is None or street is None or district is None:
        raise OutsideCity(
            _("网格 %(code)s 未挂接到社区、街道和区，请数据管理员检查区划。") % {"code": cell.code}
        )
    return Placement(cell=cell, community=community, street=street, district=district)


# Areas own their pieces (mapit's pattern): every save or delete of an Area, from the
# admin, the API, a command or the shell, brings that area's pieces in step at once, in
# the same transaction. A current area (valid_to NULL) has pieces; a retired one has
# none, so nothing new is placed in it. Bulk writers (import_areas, the demo city) defer
# this per-row work with deferred_pieces() and rebuild once at the end.
_deferred = threading.local()

# Fields whose change can change an area's pieces; saves limited to other fields (a
# corrected name) leave them alone.
_PIECE_FIELDS = frozenset({"geom", "valid_to", "tier"})


def sync_pieces(area_ids: Iterable[int]) -> int:
    """Bring the pieces of these areas in step with their rows; returns pieces written."""
    ids = sorted(set(area_ids))
    if not ids:
        return 0
    table = AreaPiece._meta.db_table
    area_table = Area._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE area_id = ANY(%s)", [ids])
        cursor.execute(
            f"""
            INSERT INTO {table} (area_id, tier, geom)
            SELECT id, tier, (ST_Dump(ST_Subdivide(geom, %s))).geom
            FROM {area_table} WHERE valid_to IS NULL AND id = ANY(%s)
            """,
            [PIECE_MAX_VERTICES, ids],
        )
        return cursor.rowcount


@contextmanager
def deferred_pieces() -> Iterator[None]:
    """Within the block, Area saves do not touch pieces; on leaving it without an error,
    all pieces are rebuilt once (for bulk writes of many areas)."""
    depth = getattr(_deferred, "depth", 0)
    _deferred.depth = depth + 1
    try:
        yield
    finally:
        _deferred.depth = depth
    if depth == 0:
        rebuild_pieces()


def _area_saved(sender: type[Area], instance: Area, **kwargs: Any) -> None:
    if getattr(_deferred, "depth", 0) or kwargs.get("raw"):
        return
    fields = kwargs.get("update_fields")
    if fields is not None and not _PIECE_FIELDS.intersection(fields):
        return
    sync_pieces([instance.pk])


def connect_piece_signals() -> None:
    """Called once from LayersConfig.ready(). Deleting an area deletes its pieces through
    the foreign key's CASCADE."""
    post_save.connect(_area_saved, sender=Area, dispatch_uid="layers.area_pieces_saved")


def rebuild_pieces() -> int:
    """Rebuild the subdivided copies of all current areas; returns the number of pieces."""
    table = AreaPiece._meta.db_table
    area_table = Area._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
        cursor.execute(
            f"""
            INSERT INTO {table} (area_id, tier, geom)
            SELECT id, tier, (ST_Dump(ST_Subdivide(geom, %s))).geom
            FROM {area_table} WHERE valid_to IS NULL
            """,
            [PIECE_MAX_VERTICES],
        )
        count = cursor.rowcount
        cursor.execute(f"ANALYZE {table}")
    return count
