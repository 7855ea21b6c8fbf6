"""Maps of the pages, built with folium and served without a single outside request.

folium writes CDN addresses for Leaflet and its own helpers (jQuery, Bootstrap, Font
Awesome); a city intranet cannot reach them. LocalMap loads Leaflet from the project's
static files and nothing else: the pages draw with Leaflet and Leaflet.VectorGrid only.
The base map is the city's own tile server when MAP_TILE_URL names one; with none, the
administrative layers are drawn on a plain background.
"""

from __future__ import annotations

from dataclasses import dataclass

import folium
from django.conf import settings
from django.templatetags.static import static
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from layers.models import Area


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


def area_map(area: Area | None) -> LocalMap:
    """A map fitted to `area` (the user's own: street, district or the city)."""
    tiles = settings.MAP_TILE_URL or None
    fmap = LocalMap(
        location=[23.13, 113.26],  # Guangzhou, until fitted to the area below
        zoom_start=11,
        tiles=tiles,
        attr=settings.MAP_TILE_ATTRIBUTION if tiles else None,
        control_scale=True,
        prefer_canvas=True,
    )
    if area is not None:
        x0, y0, x1, y1 = area.geom.extent
        fmap.fit_bounds([[y0, x0], [y1, x1]])
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
