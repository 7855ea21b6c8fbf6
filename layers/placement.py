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
from functools import cache
from typing import Any, cast

from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import connection
from django.db.models.signals import post_save
from django.utils.translation import gettext as _

from layers.kept_statements import kept_cursor
from layers.models import Area, AreaPiece, Tier

# ST_Subdivide's vertex budget per piece: small pieces make the GiST index precise.
PIECE_MAX_VERTICES = 64


class OutsideCity(ValueError):
    """The point lies in no grid cell of the city. Its text is in the user's language."""


@dataclass(frozen=True)
class Placement:
    """The areas of a point, lean: each holds its id, code, names, tier and parent (the
    next one up, already attached), never its outline. Their `geom` is deferred, so code
    that truly needs a polygon loads it with a query of its own, and nothing else pays
    for it (a cell, community, street and district outline together are ~50 KB of text)."""

    cell: Area
    community: Area
    street: Area
    district: Area


# What a placed area carries: enough to file a case on it, show it and route it.
LEAN_FIELDS = ("id", "tier", "code", "name", "name_en", "parent_id")
_TIERS_UP = ("cell", "community", "street", "district")


@cache
def _place_sql() -> str:
    """One statement: the lowest-coded current cell piece covering the point (the GiST
    index of the pieces), joined up to its district, lean columns only. Plain SQL: the
    ORM's version of it cost 2 ms of Python to build per point, the statement 0.2 ms."""
    area, piece = Area._meta.db_table, AreaPiece._meta.db_table
    columns = ", ".join(f"{t}.{f}" for t in _TIERS_UP for f in LEAN_FIELDS)
    return (
        f"SELECT {columns} FROM {piece} p JOIN {area} cell ON cell.id = p.area_id"
        f" LEFT JOIN {area} community ON community.id = cell.parent_id"
        f" LEFT JOIN {area} street ON street.id = community.parent_id"
        f" LEFT JOIN {area} district ON district.id = street.parent_id"
        " WHERE p.tier = %s AND ST_Covers(p.geom, ST_GeomFromEWKB(%s))"
        " ORDER BY cell.code LIMIT 1"
    )


def place_point(point: Point) -> Placement:
    """The current cell covering `point` and its ancestors, in one query that reads no
    geometry column."""
    if point.srid is None:  # as the ORM reads it: in the storage SRID
        point = Point(point.x, point.y, srid=settings.GRID_SRID)
    elif point.srid != settings.GRID_SRID:
        point = cast(Point, point.transform(settings.GRID_SRID, clone=True))
    with kept_cursor() as cursor:  # planning it cost more than running it
        cursor.execute(_place_sql(), [Tier.CELL.value, bytes(point.ewkb)])
        row = cursor.fetchone()
    if row is None:
        raise OutsideCity(
            _("位置（%(lon).6f, %(lat).6f）不在本市任何网格内。") % {"lon": point.x, "lat": point.y}
        )
    n = len(LEAN_FIELDS)
    # Model instances with every other field (the outline above all) deferred, as
    # .only() makes them; each is attached to the next one up as its parent.
    cell, community, street, district = (
        None if values[0] is None else Area.from_db(connection.alias, LEAN_FIELDS, values)
        for values in (row[i * n : (i + 1) * n] for i in range(len(_TIERS_UP)))
    )
    assert cell is not None  # the inner join
    for child, parent in ((cell, community), (community, street), (street, district)):
        if child is not None and parent is not None:
            child.parent = parent
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
