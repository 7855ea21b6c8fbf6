"""The SQL of every tile layer: which rows, which properties, at which zoom.

Each layer's rows are an ORM queryset filtered by the same access function as the API
(layers.access.record_scope, incidents.access.case_scope, layers.access.visible_areas)
and by the tile's box; its SQL (queryset.query.sql_with_params()) is wrapped in one
statement that clips the rows into the tile with ST_AsMVTGeom and encodes them with
ST_AsMVT, so the tile is built inside PostgreSQL and crosses the connection once.
Storage is in GRID_SRID (4326), tiles are in Web Mercator (3857): the index filter uses
the tile's box in 4326 (with the clipping margin), the geometry is transformed to 3857
only for the rows inside it.

The tile's numbers enter the SQL as parameters only (ZXY: its envelope and box are
computed by PostgreSQL), so the SQL depends on the layer, the zoom band and the user's
post alone. It is built through the ORM once per band and post and kept (`_kept`), with
stand-ins for the tile's numbers: building it took 0.2 to 1.1 ms of every tile (areas:
four tiers; cases: a four-way OR with a subquery).

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

import functools
import math
from collections.abc import Hashable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.gis.db.models import GeometryField
from django.db.models import Case, F, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat, Substr

from incidents.access import case_scope
from incidents.models import FINAL_STATES
from incidents.models import Case as CaseModel
from layers.access import Scope, apply_scope, post_key, record_scope, visible_areas
from layers.datum import Datum, parse_datum, to_wgs84
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
AGGREGATED = ("community", "cell")  # the bands drawn from the per-cell counts


class At(Enum):
    """Stand-ins for the tile's numbers among a kept statement's parameters; statement()
    puts the tile's in."""

    Z = "z"
    X = "x"
    Y = "y"
    DX = "dx"
    DY = "dy"


ZXY = (At.Z, At.X, At.Y, At.DX, At.DY)
# The tile's Web Mercator envelope; its box in GRID_SRID with the clipping margin (the
# index filter); half a pixel in degrees (simplifying outlines). PostgreSQL folds them to
# constants when it plans the statement, so its estimates see the real box.
# Base map datum (settings.MAP_TILE_DATUM): a base map drawn in GCJ-02 or BD-09 shows a
# place some hundred metres from its WGS 84 coordinates. The tile the browser asks for
# covers the base map's tile, so the envelope is moved back by the datum's offset at the
# tile's centre (dx, dy, metres of Web Mercator; Tile.shift): the stored WGS 84 rows then
# land where the base map shows them. The offset changes by under 0.3 % of a tile across
# it, less than a pixel at every zoom.
ENVELOPE = "ST_Translate(ST_TileEnvelope(%s, %s, %s), %s, %s)"
BOX_SQL = (
    f"ST_Transform(ST_Translate(ST_TileEnvelope(%s, %s, %s, margin => {BUFFER / EXTENT}), "
    f"%s, %s), {settings.GRID_SRID})"
)
# A constant text, with the tile's numbers as parameters.
BOX = RawSQL(BOX_SQL, ZXY, output_field=GeometryField(srid=settings.GRID_SRID))  # noqa: S611
HALF_PIXEL = f"180.0 / {EXTENT} / 2 ^ %s"

# (expression in the inner query, property name in the tile)
Columns = list[tuple[str, str]]


_HALF_WORLD = 20037508.342789244  # metres of Web Mercator from the centre to an edge
_EARTH_RADIUS = 6378137.0


@dataclass(frozen=True)
class Tile:
    z: int
    x: int
    y: int

    def valid(self) -> bool:
        return 0 <= self.z <= MAX_ZOOM and 0 <= self.x < 2**self.z and 0 <= self.y < 2**self.z

    @property
    def dx(self) -> float:
        return self.shift()[0]

    @property
    def dy(self) -> float:
        return self.shift()[1]

    def shift(self) -> tuple[float, float]:
        """How far (Web Mercator metres) the envelope moves so that WGS 84 rows land
        where a base map in settings.MAP_TILE_DATUM shows them: minus that datum's offset
        at the tile's centre. (0, 0) for a WGS 84 or CGCS2000 base map."""
        return _shift(self.z, self.x, self.y, settings.MAP_TILE_DATUM)


@functools.lru_cache(maxsize=4096)
def _shift(z: int, x: int, y: int, datum: str) -> tuple[float, float]:
    if parse_datum(datum) in (Datum.WGS84, Datum.CGCS2000):
        return 0.0, 0.0
    size = 2 * _HALF_WORLD / 2**z
    mx, my = -_HALF_WORLD + (x + 0.5) * size, _HALF_WORLD - (y + 0.5) * size
    lon = math.degrees(mx / _EARTH_RADIUS)
    lat = math.degrees(2 * math.atan(math.exp(my / _EARTH_RADIUS)) - math.pi / 2)
    # The WGS 84 place the base map shows at the tile's centre, in Web Mercator.
    wlon, wlat = (float(v[0]) for v in to_wgs84([lon], [lat], datum))
    wx = math.radians(wlon) * _EARTH_RADIUS
    wy = math.log(math.tan(math.pi / 4 + math.radians(wlat) / 2)) * _EARTH_RADIUS
    return wx - mx, wy - my


@dataclass(frozen=True)
class Statement:
    sql: str
    params: tuple[Any, ...]


def band(layer: str, z: int) -> str | None:
    """How `layer` is drawn at zoom `z`: `community` or `cell` (counts), `points`,
    `outlines`, the area tiers joined by commas; None for nothing."""
    if layer == "areas":
        return ",".join(tier for tier, min_zoom in AREA_MIN_ZOOM.items() if z >= min_zoom)
    if layer == "cells":
        return "outlines" if z >= CELL_OUTLINE_MIN_ZOOM else None
    if layer == "cases" and z >= CASE_POINT_MIN_ZOOM:
        return "points"
    if z <= COMMUNITY_MAX_ZOOM:
        return "community"
    return "cell" if z <= CELL_MAX_ZOOM else "points"


def statement(layer: str, tile: Tile, user: AnyUser) -> Statement | None:
    """The SQL that makes `layer`'s tile for `user`; None when it is empty for sure (no
    access, or nothing drawn at this zoom)."""
    drawn = band(layer, tile.z)
    kept = None if drawn is None else _kept(layer, drawn, user)
    if kept is None:
        return None
    params = tuple(getattr(tile, p.value) if isinstance(p, At) else p for p in kept.params)
    return Statement(kept.sql, params)


_KEPT: dict[Hashable, Statement | None] = {}
_KEPT_MAX = 4096  # layers × bands × posts; forgotten all at once when full


def _kept(layer: str, drawn: str, user: AnyUser) -> Statement | None:
    """The statement with stand-ins for the tile, kept per layer, band and post
    (layers.access.post_key: what every scope is built from)."""
    key = (layer, drawn, post_key(user))
    try:
        return _KEPT[key]
    except KeyError:
        if len(_KEPT) >= _KEPT_MAX:
            _KEPT.clear()
        kept = _KEPT[key] = _build(layer, drawn, user)
        return kept


def _build(layer: str, drawn: str, user: AnyUser) -> Statement | None:
    if layer == "areas":
        return _concat([_outline_mvt(tier, user) for tier in drawn.split(",")])
    if layer == "cells":
        return _outline_mvt(Tier.CELL, user)
    if layer == "cases":
        return _cases(drawn, case_scope(user))
    return _base(layer, drawn, record_scope(user))


def _mvt(
    name: str, rows: QuerySet[Any], columns: Columns, *, geom: Statement = Statement("q.geom", ())
) -> Statement:
    """ST_AsMVT over `rows` (a queryset of .values() with a `geom` column in 4326);
    `geom`: what to draw of it."""
    inner, params = rows.query.sql_with_params()
    props = "".join(f", q.{expression} AS {prop}" for expression, prop in columns)
    sql = (
        f"SELECT ST_AsMVT(t.*, %s, {EXTENT}, 'geom') FROM ("
        f"SELECT ST_AsMVTGeom(ST_Transform({geom.sql}, 3857), {ENVELOPE}, "
        f"{EXTENT}, {BUFFER}, true) AS geom{props} FROM ({inner}) q"
        f") t WHERE t.geom IS NOT NULL"
    )
    return Statement(sql, (name, *geom.params, *ZXY, *params))


def _concat(parts: list[Statement]) -> Statement:
    # MVT layers are protobuf messages of one repeated field: tiles concatenate.
    sql = " || ".join(f"coalesce(({part.sql}), ''::bytea)" for part in parts)
    return Statement(f"SELECT {sql}", tuple(p for part in parts for p in part.params))


OUTLINE_COLUMNS: Columns = [("id", "id"), ("code", "code"), ("name", "name")]


def _outline_mvt(tier: str, user: AnyUser) -> Statement:
    """The current areas of `tier` in the tile.

    Areas above cells are cut to the tile's box and simplified to half a pixel before
    they are transformed (a district's whole boundary would be transformed for every
    tile it touches); 3 to 6 times faster on the demo city's areas at z10-12, and the
    tiles a third of the size, with no visible change. Cells are small and mostly
    inside the tile: cutting them first does not pay."""
    current = Area.objects.current().filter(tier=tier, geom__bboverlaps=BOX)
    rows = visible_areas(user, current).values("id", "code", "name", "geom")
    if tier == Tier.CELL:
        return _mvt("cells", rows, OUTLINE_COLUMNS)
    cut = f"ST_Simplify(ST_ClipByBox2D(q.geom, {BOX_SQL}), {HALF_PIXEL}, true)"
    return _mvt(tier, rows, OUTLINE_COLUMNS, geom=Statement(cut, (*ZXY, At.Z)))


# --- base layers ----------------------------------------------------------------------


def _base(layer: str, drawn: str, scope: Scope) -> Statement | None:
    if scope is False:
        return None
    if drawn in AGGREGATED:
        return _counts(layer, drawn, scope)
    if layer == "components":
        components = apply_scope(Component.objects.filter(geom__bboverlaps=BOX), scope)
        # The 16-digit code holds the catalogue class: district (6) + major + minor.
        rows = components.annotate(class_code=Substr("code", 7, 4)).values(
            "id", "geom", "state", "class_code"
        )
        return _mvt(layer, rows, [("id", "id"), ("state", "state"), ("class_code", "category")])
    if layer == "entities":
        entities = apply_scope(LegalEntity.objects.filter(geom__bboverlaps=BOX), scope)
        return _mvt(
            layer,
            entities.values("id", "geom", "status", "entity_type"),
            [("id", "id"), ("status", "status"), ("entity_type", "type")],
        )
    return _residents(scope)


def _residents(scope: Scope) -> Statement:
    """People are drawn as counts at the points they live at, never one by one: a
    person's point is their home, which is personal data."""
    people = apply_scope(Person.objects.filter(geom__bboverlaps=BOX), scope)
    inner, params = people.values("geom").order_by().query.sql_with_params()
    sql = (
        f"SELECT ST_AsMVT(t.*, 'population', {EXTENT}, 'geom') FROM ("
        f"SELECT ST_AsMVTGeom(ST_Transform(q.geom, 3857), {ENVELOPE}, "
        f"{EXTENT}, {BUFFER}, true) AS geom, count(*) AS count FROM ({inner}) q "
        f"GROUP BY q.geom) t WHERE t.geom IS NOT NULL"
    )
    return Statement(sql, (*ZXY, *params))


def _counts(layer: str, drawn: str, scope: Scope) -> Statement:
    """Per cell or per community, from TileCount (kept by map_ui.tiles.counts), drawn at
    the area's label point. `count` is the user's visible records there; for population
    also `density`, people per km² of the cells the user sees."""
    cells = apply_scope(TileCount.objects.filter(**{f"{layer}__gt": 0}), scope)
    rows = cells.values("cell_id", "community_id", layer).order_by()
    aggregates, sizes = f"sum(c.{layer}) AS count", ""
    if layer == "population":
        aggregates += ", sum(c.population) / nullif(sum(size.km2), 0) AS density"
        sizes = f"JOIN {TileLabel._meta.db_table} size ON size.area_id = c.cell_id"
    return _at_labels(layer, rows, f"{drawn}_id", aggregates, join=sizes)


def _at_labels(
    name: str, rows: QuerySet[Any], key: str, aggregates: str, *, join: str = ""
) -> Statement:
    """ST_AsMVT of `rows` (`c` in the SQL) grouped by the area in their column `key`,
    one feature per area at its label point (TileLabel), with `id`, `code`, `level` and
    the properties in `aggregates` (SQL); `join`: more tables the aggregates read."""
    inner, params = rows.query.sql_with_params()
    labels = TileLabel._meta.db_table
    sql = (
        f"SELECT ST_AsMVT(t.*, %s, {EXTENT}, 'geom') FROM ("
        f"SELECT ST_AsMVTGeom(ST_Transform(l.point, 3857), {ENVELOPE}, "
        f"{EXTENT}, {BUFFER}, true) AS geom, l.area_id AS id, l.code, l.tier AS level, "
        f"{aggregates} FROM ({inner}) c JOIN {labels} l ON l.area_id = c.{key} {join} "
        f"WHERE l.point && {BOX_SQL} GROUP BY l.area_id"
        f") t WHERE t.geom IS NOT NULL"
    )
    return Statement(sql, (name, *ZXY, *params, *ZXY))


# --- cases ----------------------------------------------------------------------------

DEADLINE = Case(
    When(due_at__isnull=True, then=Value("none")),
    When(overdue=True, then=Value("overdue")),
    When(warned=True, then=Value("warning")),
    default=Value("on_time"),
)


def _cases(drawn: str, scope: Scope) -> Statement | None:
    """Open cases (not closed, cancelled or merged): the live map's work in hand."""
    if scope is False:
        return None
    open_cases = apply_scope(CaseModel.objects.exclude(state__in=FINAL_STATES), scope)
    if drawn == "points":
        rows = (
            open_cases.filter(geom__bboverlaps=BOX)
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
        return _mvt("cases", rows, columns)
    counted = open_cases.values("community_id", "overdue", "warned", "urgent").order_by()
    # Cases keep the community they were filed in; one redrawn since has no label and
    # is left out of the low-zoom counts (its point still shows from CASE_POINT_MIN_ZOOM).
    aggregates = (
        "count(*) AS count, count(*) FILTER (WHERE c.overdue) AS overdue, "
        "count(*) FILTER (WHERE c.warned AND NOT c.overdue) AS warning, "
        "count(*) FILTER (WHERE c.urgent) AS urgent"
    )
    return _at_labels("cases", counted, "community_id", aggregates)


def _category_code() -> Concat:
    return Concat(F("category__major_code"), F("category__minor_code"))
