"""Placement (入格): which cell, community, street and district a point lies in.

Border-inclusive: a point on the border between two cells is covered by both, and the
cell with the lower code wins, so the answer never depends on table order. Interactive
paths call place_point(); bulk imports use layers.importing.cells.CellIndex, which gives the
same answers for millions of points at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.gis.geos import Point
from django.db import connection
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
