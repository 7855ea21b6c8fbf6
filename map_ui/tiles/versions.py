"""The version token of each tile layer: it changes whenever what the layer shows changes,
so a page that puts it into its tile URLs (`?v=`) fetches fresh tiles exactly then.

- `areas`, `cells`: the `areas` change counter (a trigger on layers_area).
- `components`, `entities`, `population`: the layer's own counter and the `areas` one
  (their aggregates are drawn at the areas' label points).
- `cases`: the newest outbox sequence number. Every change of a case writes an outbox
  event in its transaction (incidents.outbox.emit), the SLA worker's warnings and
  overdue marks included, so the number moves with every change a tile could show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import connection
from django.urls import reverse

from incidents.models import OutboxCounter
from map_ui.tiles.models import TileVersion

if TYPE_CHECKING:
    from layers.access import AnyUser

LAYERS = ("areas", "cells", "components", "entities", "population", "cases")
BASE_LAYERS = ("components", "entities", "population")
# The sources of derived rows: the areas (labels) and the base layers (counts).
SOURCES = frozenset({"areas", *BASE_LAYERS})


@dataclass(frozen=True)
class Versions:
    tokens: dict[str, str]  # layer -> version token
    behind: frozenset[str]  # sources whose derived rows (map_ui.tiles.counts) are stale


def current() -> Versions:
    """Every layer's token and what the counts are behind on (one query)."""
    version_table = TileVersion._meta.db_table
    counter_table = OutboxCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT name, version, counted FROM {version_table} UNION ALL "
            f"SELECT 'cases', coalesce(max(last_seq), 0), 0 FROM {counter_table}"
        )
        rows = cursor.fetchall()
    found = {name: int(version) for name, version, _ in rows}
    behind = {name for name, version, counted in rows if name in SOURCES and counted != version}
    # A source row emptied away (a flushed test database) is behind too.
    behind |= set(SOURCES) - set(found)
    areas = found.get("areas", 0)
    tokens = {"areas": str(areas), "cells": str(areas)}
    for layer in (*BASE_LAYERS, "cases"):
        tokens[layer] = f"{areas}.{found.get(layer, 0)}"
    return Versions(tokens, frozenset(behind))


def tile_urls(user: AnyUser) -> dict[str, str]:
    """Tile URL templates of every layer for `user`, with the current version tokens:
    `{"cases": "/map/tiles/cases/{z}/{x}/{y}.pbf?v=3.118", …}`. Empty for a user who may
    not see the map (anonymous or inactive). Every layer is listed for everyone else; a
    tile with nothing the user may see answers 204."""
    if not user.is_authenticated or not user.is_active:
        return {}
    tokens = current().tokens
    out = {}
    for layer in LAYERS:
        # reverse() of a sample tile, then placeholders: the int converters refuse "{z}".
        url = reverse("map_tiles:tile", kwargs={"layer": layer, "z": 0, "x": 0, "y": 0})
        template = url.removesuffix("/0/0/0.pbf") + "/{z}/{x}/{y}.pbf"
        out[layer] = f"{template}?v={tokens[layer]}"
    return out
