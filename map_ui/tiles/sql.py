"""The SQL of every tile layer: which rows, which properties, at which zoom.

Each layer's rows are an ORM queryset filtered by the same access function as the API
(layers.access.record_scope, incidents.access.case_scope, layers.access.visible_areas)
and by the tile's box; its SQL (queryset.query.sql_with_params()) is wrapped in one
statement that clips the rows into the tile with ST_AsMVTGeom and encodes them with
ST_AsMVT, so the tile is built inside PostgreSQL and crosses the connection once.
Storage is in GRID_SRID (4326), tiles are in Web Mercator (3857): the index filter uses
the tile's box in 4326 (computed here, with the clipping margin), the geometry is
transformed to 3857 only for the rows inside it.

Zooms (see docs/tiles.md for the properties):

| layer | aggregated per community | per cell | one feature per record |
| --- | --- | --- | --- |
| components, entities | z ≤ 12 | z 13–16 | z ≥ 17 |
| population | z ≤ 12 | z 13–16 | z ≥ 17, per address point (no person) |
| cases (open) | z ≤ 12 | — | z ≥ 13 |
| cells (outlines) | — | z ≥ 13 | — |
| areas | districts always, streets z ≥ 10, communities z ≥ 12 |
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.gis.geos import Polygon
from django.db.models import Case, F, QuerySet, Value, When
from django.db.models.functions import Concat, Substr

from incidents.access import case_scope
from incidents.models import FINAL_STATES
from incidents.models import Case as CaseModel
from layers.access import Scope, apply_scope, record_scope, visible_areas
from layers.models import Area, Component, LegalEntity, Person, Tier
from map_ui.tiles.models import TileCount, TileLabel

if TYPE_CHECKING:
    from layers.access import AnyUser

MAX_ZOOM = 22
EXTENT = 4096  # MVT coordinates per tile side
BUFFER = 64  # clipping margin, in tile coordinates: symbols at an edge are not cut
COMMUNITY_MAX_ZOOM = 12  # at and below: one feature per community
# From COMMUNITY_MAX_ZOOM + 1 to here: one feature per cell. Points start above it: a
# z16 tile over the densest streets would carry ~6,000 of them (40-55 ms to encode,
# unreadable on screen), a z17 tile a quarter of that.
CELL_MAX_ZOOM = 16
CASE_POINT_MIN_ZOOM = 13
CELL_OUTLINE_MIN_ZOOM = 13
AREA_MIN_ZOOM = {Tier.DISTRICT: 0, Tier.STREET: 10, Tier.COMMUNITY: 12}

# (expression in the inner query, property name in the tile)
Columns = list[tuple[str, str]]


@dataclass(frozen=True)
class Tile:
    z: int
    x: int
    y: int

    def valid(self) -> bool:
        return 0 <= self.z <= MAX_ZOOM and 0 <= self.x < 2**self.z and 0 <= self.y < 2**self.z

    @cached_property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the tile with its clipping margin, in GRID_SRID:
        Web Mercator maps longitude and latitude separately, so the box in degrees is
        exact."""
        n = 2**self.z
        m = BUFFER / EXTENT

        def lat(y: float) -> float:
            return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))

        west, east = (self.x - m) / n * 360 - 180, (self.x + 1 + m) / n * 360 - 180
        north, south = lat(max(self.y - m, 0)), lat(min(self.y + 1 + m, n))
        return west, south, east, north

    @cached_property
    def box(self) -> Polygon:
        """`bounds` as a polygon, for the index filter of every query of the tile."""
        box = Polygon.from_bbox(self.bounds)
        box.srid = settings.GRID_SRID
        return box


@dataclass(frozen=True)
class Statement:
    sql: str
    params: tuple[Any, ...]


def statement(layer: str, tile: Tile, user: AnyUser) -> Statement | None:
    """The SQL that makes `layer`'s tile for `user`; None when it is empty for sure (no
    access, or nothing drawn at this zoom)."""
    if layer == "areas":
        return _areas(tile, user)
    if layer == "cells":
        return _cells(tile, user)
    if layer == "cases":
        return _cases(tile, case_scope(user))
    return _base(layer, tile, record_scope(user))


def _mvt(
    name: str, tile: Tile, rows: QuerySet[Any], columns: Columns, *, outlines: bool = False
) -> Statement:
    """ST_AsMVT over `rows` (a queryset of .values() with a `geom` column in 4326).

    `outlines`: polygons are cut to the tile's box and simplified to half a pixel before
    they are transformed (a district's whole boundary would be transformed for every
    tile it touches); 3 to 6 times faster on the demo city's areas at z10-12, and
    the tiles a third of the size, with no visible change."""
    inner, params = rows.query.sql_with_params()
    props = "".join(f", q.{expression} AS {prop}" for expression, prop in columns)
    geom: tuple[str, tuple[Any, ...]] = ("q.geom", ())
    if outlines:
        half_pixel = 360 / 2**tile.z / EXTENT / 2
        geom = (
            "ST_Simplify(ST_ClipByBox2D(q.geom, ST_MakeEnvelope(%s, %s, %s, %s, 4326)), %s, true)",
            (*tile.bounds, half_pixel),
        )
    sql = (
        f"SELECT ST_AsMVT(t.*, %s, {EXTENT}, 'geom') FROM ("
        f"SELECT ST_AsMVTGeom(ST_Transform({geom[0]}, 3857), ST_TileEnvelope(%s, %s, %s), "
        f"{EXTENT}, {BUFFER}, true) AS geom{props} FROM ({inner}) q"
        f") t WHERE t.geom IS NOT NULL"
    )
    return Statement(sql, (name, *geom[1], tile.z, tile.x, tile.y, *params))


def _concat(parts: list[Statement]) -> Statement:
    # MVT layers are protobuf messages of one repeated field: tiles concatenate.
    sql = " || ".join(f"coalesce(({part.sql}), ''::bytea)" for part in parts)
    return Statement(f"SELECT {sql}", tuple(p for part in parts for p in part.params))


OUTLINE_COLUMNS: Columns = [("id", "id"), ("code", "code"), ("name", "name")]


def _areas(tile: Tile, user: AnyUser) -> Statement:
    parts = [
        _mvt(tier, tile, _outlines(tier, tile, user), OUTLINE_COLUMNS, outlines=True)
        for tier, min_zoom in AREA_MIN_ZOOM.items()
        if tile.z >= min_zoom
    ]
    return _concat(parts)


def _cells(tile: Tile, user: AnyUser) -> Statement | None:
    if tile.z < CELL_OUTLINE_MIN_ZOOM:
        return None
    # Cells are small and mostly inside the tile: cutting them first does not pay.
    return _mvt("cells", tile, _outlines(Tier.CELL, tile, user), OUTLINE_COLUMNS)


def _outlines(tier: str, tile: Tile, user: AnyUser) -> QuerySet[Area, Any]:
    """The current areas of `tier` in the tile."""
    current = Area.objects.current().filter(tier=tier, geom__bboverlaps=tile.box)
    return visible_areas(user, current).values("id", "code", "name", "geom")


# --- base layers ----------------------------------------------------------------------


def _base(layer: str, tile: Tile, scope: Scope) -> Statement | None:
    if scope is False:
        return None
    if tile.z <= CELL_MAX_ZOOM:
        return _counts(layer, tile, scope)
    if layer == "components":
        components = apply_scope(Component.objects.filter(geom__bboverlaps=tile.box), scope)
        # The 16-digit code holds the catalogue class: district (6) + major + minor.
        rows = components.annotate(class_code=Substr("code", 7, 4)).values(
            "id", "geom", "state", "class_code"
        )
        return _mvt(
            layer, tile, rows, [("id", "id"), ("state", "state"), ("class_code", "category")]
        )
    if layer == "entities":
        entities = apply_scope(LegalEntity.objects.filter(geom__bboverlaps=tile.box), scope)
        return _mvt(
            layer,
            tile,
            entities.values("id", "geom", "status", "entity_type"),
            [("id", "id"), ("status", "status"), ("entity_type", "type")],
        )
    return _residents(tile, scope)


def _residents(tile: Tile, scope: Scope) -> Statement:
    """People are drawn as counts at the points they live at, never one by one: a
    person's point is their home, which is personal data."""
    people = apply_scope(Person.objects.filter(geom__bboverlaps=tile.box), scope)
    rows = people.values("geom").order_by()
    inner, params = rows.query.sql_with_params()
    sql = (
        f"SELECT ST_AsMVT(t.*, 'population', {EXTENT}, 'geom') FROM ("
        f"SELECT ST_AsMVTGeom(ST_Transform(q.geom, 3857), ST_TileEnvelope(%s, %s, %s), "
        f"{EXTENT}, {BUFFER}, true) AS geom, count(*) AS count FROM ({inner}) q "
        f"GROUP BY q.geom) t WHERE t.geom IS NOT NULL"
    )
    return Statement(sql, (tile.z, tile.x, tile.y, *params))


def _counts(layer: str, tile: Tile, scope: Scope) -> Statement:
    """Per cell or per community, from TileCount (kept by map_ui.tiles.counts), drawn at
    the area's label point. `count` is the user's visible records there; for population
    also `density`, people per km² of the cells the user sees."""
    key = "community_id" if tile.z <= COMMUNITY_MAX_ZOOM else "cell_id"
    cells = apply_scope(TileCount.objects.filter(**{f"{layer}__gt": 0}), scope)
    rows = cells.values("cell_id", "community_id", layer).order_by()
    aggregates, sizes = f"sum(c.{layer}) AS count", ""
    if layer == "population":
        aggregates += ", sum(c.population) / nullif(sum(size.km2), 0) AS density"
        sizes = f"JOIN {TileLabel._meta.db_table} size ON size.area_id = c.cell_id"
    return _at_labels(layer, tile, rows, key, aggregates, join=sizes)


def _at_labels(
    name: str, tile: Tile, rows: QuerySet[Any], key: str, aggregates: str, *, join: str = ""
) -> Statement:
    """ST_AsMVT of `rows` (`c` in the SQL) grouped by the area in their column `key`,
    one feature per area at its label point (TileLabel), with `id`, `code`, `level` and
    the properties in `aggregates` (SQL); `join`: more tables the aggregates read."""
    inner, params = rows.query.sql_with_params()
    labels = TileLabel._meta.db_table
    sql = (
        f"SELECT ST_AsMVT(t.*, %s, {EXTENT}, 'geom') FROM ("
        f"SELECT ST_AsMVTGeom(ST_Transform(l.point, 3857), ST_TileEnvelope(%s, %s, %s), "
        f"{EXTENT}, {BUFFER}, true) AS geom, l.area_id AS id, l.code, l.tier AS level, "
        f"{aggregates} FROM ({inner}) c JOIN {labels} l ON l.area_id = c.{key} {join} "
        f"WHERE l.point && ST_MakeEnvelope(%s, %s, %s, %s, 4326) GROUP BY l.area_id"
        f") t WHERE t.geom IS NOT NULL"
    )
    return Statement(sql, (name, tile.z, tile.x, tile.y, *params, *tile.bounds))


# --- cases ----------------------------------------------------------------------------

DEADLINE = Case(
    When(due_at__isnull=True, then=Value("none")),
    When(overdue=True, then=Value("overdue")),
    When(warned=True, then=Value("warning")),
    default=Value("on_time"),
)


def _cases(tile: Tile, scope: Scope) -> Statement | None:
    """Open cases (not closed, cancelled or merged): the live map's work in hand."""
    if scope is False:
        return None
    open_cases = apply_scope(CaseModel.objects.exclude(state__in=FINAL_STATES), scope)
    if tile.z >= CASE_POINT_MIN_ZOOM:
        rows = (
            open_cases.filter(geom__bboverlaps=tile.box)
            .annotate(category_code=_category_code(), deadline=DEADLINE)
            .values("id", "geom", "state", "category_code", "urgent", "deadline")
            .order_by()
        )
        columns = [
            ("id", "id"),
            ("state", "state"),
            ("category_code", "category"),
            ("urgent", "urgent"),
            ("deadline", "deadline"),
        ]
        return _mvt("cases", tile, rows, columns)
    counted = open_cases.values("community_id", "overdue", "warned", "urgent").order_by()
    # Cases keep the community they were filed in; one redrawn since has no label and
    # is left out of the low-zoom counts (its point still shows from CASE_POINT_MIN_ZOOM).
    aggregates = (
        "count(*) AS count, count(*) FILTER (WHERE c.overdue) AS overdue, "
        "count(*) FILTER (WHERE c.warned AND NOT c.overdue) AS warning, "
        "count(*) FILTER (WHERE c.urgent) AS urgent"
    )
    return _at_labels("cases", tile, counted, "community_id", aggregates)


def _category_code() -> Concat:
    return Concat(F("category__major_code"), F("category__minor_code"))
