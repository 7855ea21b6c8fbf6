"""Maps of the pages, built with folium and served without a single outside request.

folium writes CDN addresses for Leaflet and its own helpers (jQuery, Bootstrap, Font
Awesome); a city intranet cannot reach them. LocalMap loads Leaflet from the project's
static files and nothing else: the pages draw with Leaflet and Leaflet.VectorGrid only.
The base map is the city's own tile server when MAP_TILE_URL names one; with none, the
administrative layers are drawn on a plain background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import folium
from django.conf import settings
from django.contrib.gis.db.models import Extent
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from layers.models import Area, Tier
from map_ui.tiles.overlay import STACK_MIN_ZOOM
from map_ui.tiles.sql import COMMUNITY_MAX_ZOOM


class LocalMap(folium.Map):
    """folium.Map with Leaflet from the static files (default_js/css are read at render)."""

    def render(self, **kwargs: object) -> str:
        self.default_js = [("leaflet", static("vendor/leaflet/leaflet.js"))]
        self.default_css = [("leaflet_css", static("vendor/leaflet/leaflet.css"))]
        return str(super().render(**kwargs))


@dataclass(frozen=True)
class MapParts:
    """A rendered map, in the three places of a page it goes to."""

    name: str  # the global JavaScript variable that holds the L.Map
    head: SafeString
    body: SafeString
    script: SafeString


# The zooms the map may show. The base map's tiles and the vector tiles are drawn up to
# MAX_ZOOM (Leaflet.VectorGrid's maxNativeZoom, a tile server's usual range); past it a
# base map showed a blank grey square. MIN_ZOOM_BELOW_CITY: how far below the zoom that
# fits the whole city one may zoom out.
MAX_ZOOM = 18
MIN_ZOOM_BELOW_CITY = 1
# Room around the city the map may be panned into, as a share of its size.
BOUNDS_MARGIN = 0.25
# Width of a map in pixels the city's zoom is fitted to (a desktop map's).
FIT_PIXELS = 900


def city_extent() -> tuple[float, float, float, float] | None:
    """The extent of the city in the data: its city area's, or, for a hierarchy without
    one, that of every current area (None: no areas at all)."""
    city = Area.objects.current().filter(tier=Tier.CITY).order_by("code").first()
    if city is not None:
        return city.geom.extent  # type: ignore[no-any-return]
    extent = Area.objects.current().aggregate(extent=Extent("geom"))["extent"]
    return None if extent is None else tuple(extent)  # type: ignore[return-value]


def fitting_zoom(extent: tuple[float, float, float, float]) -> int:
    """The zoom at which `extent` (degrees) fits FIT_PIXELS across (256-pixel tiles)."""
    x0, y0, x1, y1 = extent
    middle = math.radians((y0 + y1) / 2)
    span = max(x1 - x0, (y1 - y0) / max(math.cos(middle), 0.1), 1e-6)
    return max(0, min(MAX_ZOOM, math.floor(math.log2(FIT_PIXELS * 360 / (256 * span)))))


def area_map(area: Area | None) -> LocalMap:
    """A map fitted to `area` (the user's own: street, district or the city), kept to
    the city: no zoom past the tiles' range, none far out of it, no panning away."""
    tiles = settings.MAP_TILE_URL or None
    frame = city_extent() or (area.geom.extent if area is not None else None)
    limits: dict[str, Any] = {}
    location = None
    zoom = 11
    if frame is not None:
        x0, y0, x1, y1 = frame
        dx, dy = (x1 - x0) * BOUNDS_MARGIN, (y1 - y0) * BOUNDS_MARGIN
        zoom = fitting_zoom(frame)
        location = [(y0 + y1) / 2, (x0 + x1) / 2]
        limits = {
            # Leaflet's own option names: folium gives min_zoom/max_zoom to the base
            # map's tile layer only, and with no base map to nothing.
            "minZoom": max(0, zoom - MIN_ZOOM_BELOW_CITY),
            "max_bounds": True,
            "min_lat": y0 - dy,
            "max_lat": y1 + dy,
            "min_lon": x0 - dx,
            "max_lon": x1 + dx,
        }
    fmap = LocalMap(
        location=location,
        zoom_start=zoom,
        tiles=tiles,
        # folium refuses custom tiles without a credit line: the server's name stands in.
        attr=(settings.MAP_TILE_ATTRIBUTION or urlsplit(tiles).netloc) if tiles else None,
        control_scale=True,
        prefer_canvas=True,
        max_zoom=MAX_ZOOM,
        maxZoom=MAX_ZOOM,
        **limits,
    )
    if area is not None:
        x0, y0, x1, y1 = area.geom.extent
        # At once, not animated: while Leaflet animates a zoom it drops any other view
        # asked for (a search result, a GPS fix), and the page would open on the wrong one.
        opening = folium.FitBounds([[y0, x0], [y1, x1]])
        opening.options["animate"] = False  # a Leaflet option folium has no argument for
        fmap.add_child(opening)
    return fmap


def render(fmap: folium.Map, nonce: str = "") -> MapParts:
    """The map's parts; `nonce` (the response's Content-Security-Policy nonce) is given
    to the inline scripts folium writes into the head (the page's template gives it to
    the map's script)."""
    root = fmap.get_root()
    assert isinstance(root, folium.Figure)  # a Map always sits in a Figure
    root.render()
    head = root.header.render()
    if nonce:
        head = head.replace("<script>", f'<script nonce="{escape(nonce)}">')
    return MapParts(
        name=fmap.get_name(),
        head=mark_safe(head),  # noqa: S308 - folium's own HTML
        body=mark_safe(root.html.render()),  # noqa: S308
        script=mark_safe(root.script.render()),  # noqa: S308
    )


def map_config() -> dict[str, Any]:
    """What mapkit.js needs on every page's map (its texts in the user's language): the
    overlay addresses, the zoom limit, the legend's and the popups' words."""
    return {
        "max_zoom": MAX_ZOOM,
        "tile_datum": settings.MAP_TILE_DATUM,
        "labels_url": reverse("map_tiles:labels"),
        "stacks_url": reverse("map_tiles:stacks"),
        # info/<layer>/<id>.json below this prefix
        "info_url": reverse("map_tiles:info", args=["cells", 0]).removesuffix("cells/0.json"),
        "stack_min_zoom": STACK_MIN_ZOOM,
        "points_min_zoom": COMMUNITY_MAX_ZOOM + 1,
        "texts": {
            "legend": _("图例"),
            "layers": {
                "areas": _("行政区划"),
                "district": _("区"),
                "street": _("街道"),
                "community": _("社区"),
                "cells": _("网格"),
                "components": _("部件"),
                "entities": _("法人单位"),
                "population": _("人口密度"),
                "cases": _("案件"),
                "live": _("实时案件"),
            },
            "fill": _("填充色：处置时限"),
            "ring": _("外圈：办理环节"),
            "deadline": {
                "on_time": _("正常"),
                "warning": _("预警"),
                "overdue": _("超期"),
                "none": _("未计时"),
            },
            "rings": {
                "command": _("待受理或派遣"),
                "unit": _("待责任单位处置"),
                "signed": _("处置中"),
                "suspended": _("已挂起"),
                "check": _("待核查或结案"),
            },
            "stack": _("此处有 %(count)s 件案件"),
            "count": _("%(layer)s：%(count)s"),
            "zoom_in": _("放大地图以查看%(layer)s"),
            "loading": _("正在加载…"),
            "load_error": _("加载失败，请重试。"),
        },
    }
