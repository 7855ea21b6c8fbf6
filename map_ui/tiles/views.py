"""GET /map/tiles/<layer>/<z>/<x>/<y>.pbf: a Mapbox Vector Tile of one layer, as the
signed-in user may see it; GET /map/tiles/urls.json: the tile URL templates with the
current version tokens (a page asks again when it learns that data changed).

Caching: the ETag names the layer's version token and the user's post, so a tile is
answered 304 while neither changes (only the version is read, one small query); the
`?v=` token in the URL makes a page fetch new tiles as soon as the layer changes.
Tiles are private (they depend on who asks) and kept by the browser for
MAP_VECTOR_TILE_MAX_AGE seconds.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.gis.geos import Polygon
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext
from django.views.decorators.http import require_safe

from gridmgmt.api_errors import json_error
from layers.access import post_key
from map_ui.tiles import counts, overlay
from map_ui.tiles.sql import AGGREGATED, MAX_ZOOM, Tile, band, statement
from map_ui.tiles.versions import BASE_LAYERS, Versions, current, tile_urls

CONTENT_TYPE = "application/vnd.mapbox-vector-tile"


def _refused() -> HttpResponse:
    return HttpResponse(
        gettext("请先登录，再查看地图图层。"), status=403, content_type="text/plain; charset=utf-8"
    )


@require_safe
def tile(request: HttpRequest, layer: str, z: int, x: int, y: int) -> HttpResponse:
    user = request.user
    if not user.is_authenticated or not user.is_active:
        return _refused()
    where = Tile(z, x, y)
    if not where.valid():
        raise Http404(gettext("没有这个瓦片：缩放级别或行列号超出范围。"))
    versions = current()
    fresh = _counts_ready(layer, where, versions)
    etag = _etag(request, layer, versions)
    if fresh and etag in request.headers.get("If-None-Match", ""):
        return _cached(HttpResponse(status=304), etag, fresh=True)
    sql = statement(layer, where, user)
    data = b""
    if sql is not None:
        with connection.cursor() as cursor:
            cursor.execute(sql.sql, sql.params)
            row = cursor.fetchone()
        data = bytes(row[0]) if row and row[0] is not None else b""
    if not data:
        return _cached(HttpResponse(status=204), etag, fresh=fresh)
    return _cached(HttpResponse(data, content_type=CONTENT_TYPE), etag, fresh=fresh)


@require_safe
def urls(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated or not request.user.is_active:
        return _refused()
    response = JsonResponse(tile_urls(request.user))
    patch_cache_control(response, private=True, no_cache=True)
    return response


def _counts_ready(layer: str, where: Tile, versions: Versions) -> bool:
    """Whether the per-cell counts the tile reads are up to date, refreshing them first
    when they are behind. False when another request is refreshing them: the tile is
    then drawn from the counts as they are, and not cached."""
    aggregated = band(layer, where.z) in AGGREGATED
    needs = {"areas", layer} if layer in BASE_LAYERS else {"areas"}
    if not aggregated or not (versions.behind & needs):
        return True
    return counts.refresh(wait=False)


def _etag(request: HttpRequest, layer: str, versions: Versions) -> str:
    # The user's post is part of it: the same browser signed in as someone else, or the
    # user moved to another unit, must not be answered "not modified".
    post = "-".join(str(fact) for fact in post_key(request.user))
    return f'"{layer}-{versions.tokens[layer]}-{post}"'


def _cached(response: HttpResponse, etag: str, *, fresh: bool) -> HttpResponse:
    if fresh:
        response["ETag"] = etag
        patch_cache_control(response, private=True, max_age=settings.MAP_VECTOR_TILE_MAX_AGE)
    else:
        patch_cache_control(response, private=True, no_store=True)
    return response


# --- what the map draws beside the tiles (map_ui.tiles.overlay) -----------------------


def _zoom_and_box(request: HttpRequest) -> tuple[int, Polygon] | HttpResponse:
    try:
        z = int(request.GET.get("z", ""))
    except ValueError:
        z = -1
    if not 0 <= z <= MAX_ZOOM:
        return json_error(400, gettext("缩放级别应为 0 到 22 的整数。"), "invalid", "z")
    box = overlay.bbox(request.GET.get("bbox", ""))
    if box is None:
        return json_error(400, gettext("范围应为“西,南,东,北”四个经纬度数值。"), "invalid", "bbox")
    return z, box


def _private_json(data: dict[str, Any]) -> JsonResponse:
    response = JsonResponse(data)
    patch_cache_control(response, private=True, no_cache=True)
    return response


@require_safe
def labels(request: HttpRequest) -> HttpResponse:
    """GET /map/tiles/labels.json?z=&bbox=w,s,e,n: area names for the view."""
    if not request.user.is_authenticated or not request.user.is_active:
        return _refused()
    asked = _zoom_and_box(request)
    if isinstance(asked, HttpResponse):
        return asked
    z, box = asked
    tier = overlay.label_tier(z)
    return _private_json({"tier": tier, "labels": overlay.labels(request.user, z, box)})


@require_safe
def stacks(request: HttpRequest) -> HttpResponse:
    """GET /map/tiles/stacks.json?z=&bbox=w,s,e,n: open cases on top of each other."""
    if not request.user.is_authenticated or not request.user.is_active:
        return _refused()
    asked = _zoom_and_box(request)
    if isinstance(asked, HttpResponse):
        return asked
    z, box = asked
    return _private_json({"stacks": overlay.stacks(request.user, z, box)})


@require_safe
def info(request: HttpRequest, layer: str, pk: int) -> HttpResponse:
    """GET /map/tiles/info/<layer>/<id>.json: a clicked feature's popup, in words."""
    if not request.user.is_authenticated or not request.user.is_active:
        return _refused()
    found = overlay.info(request.user, layer, pk)
    if found is None:
        return json_error(404, gettext("没有找到这个要素，或无权查看。"), "not_found")
    return _private_json(found)
