"""The browser's datum module (map_ui/static/map_ui/datum.js) agrees with the server's
(layers/datum.py): the same points converted both ways in Node and in NumPy, to well under
a millimetre. The points: the demo city's outline corners (fixtures/guangzhou), and places
across China and outside it (where GCJ-02 leaves coordinates alone)."""

from __future__ import annotations

import base64
import http.server
import json
import math
import shutil
import struct
import subprocess
import threading
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from playwright.sync_api import Browser, expect
from pytest_django.fixtures import Settings

from layers.datum import Datum, from_wgs84, to_wgs84
from layers.models import Area
from tests.browser import PASSWORD, log_in, on_page, servable_passwords
from tests.cast import centre
from tests.loop import INSPECTOR_CELL
from tests.servers import asgi_server
from tests.test_tiles import Tiles, add_component

ROOT = Path(__file__).resolve().parent.parent
MODULE = ROOT / "map_ui" / "static" / "map_ui" / "datum.js"
# 1e-9 degrees is about 0.1 mm.
TOLERANCE = 1e-9


def sample_points() -> list[tuple[float, float]]:
    geometry = json.loads((ROOT / "fixtures" / "guangzhou" / "440100.geojson").read_text())
    ring = np.array(geometry["coordinates"][0][0])
    corners = [(float(x), float(y)) for x in ring[:, 0][[0, -1]] for y in ring[:, 1][[0, -1]]]
    return [
        *corners,
        (116.391, 39.907),  # the north
        (87.617, 43.793),  # the far west
        (121.47, 31.23),  # the east coast
        (126.63, 45.75),  # the north-east
        (-0.1276, 51.507),  # outside China: unchanged
        (72.1, 1.0),  # just inside the GCJ-02 rectangle
    ]


def node_convert(points: list[tuple[float, float]]) -> dict[str, dict[str, list[list[float]]]]:
    script = f"""
    import * as datum from {json.dumps(MODULE.as_uri())};
    const points = {json.dumps(points)};
    const out = {{}};
    for (const d of datum.DATUMS) {{
      out[d] = {{
        from: points.map((p) => datum.fromWgs84(p, d)),
        to: points.map((p) => datum.toWgs84(p, d)),
      }};
    }}
    console.log(JSON.stringify(out));
    """
    node = shutil.which("node")
    assert node is not None, "Node.js is installed by scripts/setup.sh"
    done = subprocess.run(  # noqa: S603 - node and a script of our own
        [node, "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, dict[str, list[list[float]]]] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def converted() -> dict[str, dict[str, list[list[float]]]]:
    return node_convert(sample_points())


@pytest.mark.parametrize("datum", [d.value for d in Datum])
def test_the_browser_and_the_server_convert_alike(
    datum: str, converted: dict[str, dict[str, list[list[float]]]]
) -> None:
    lon, lat = np.array(sample_points()).T
    for way, function in (("from", from_wgs84), ("to", to_wgs84)):
        server = np.column_stack(function(lon, lat, datum))
        browser = np.array(converted[datum][way])
        assert np.abs(server - browser).max() < TOLERANCE, (datum, way)


def test_the_offsets_are_real_and_round_trip(
    converted: dict[str, dict[str, list[list[float]]]],
) -> None:
    points = np.array(sample_points())
    gcj = np.array(converted["gcj02"]["from"])
    shift = np.abs(gcj - points).max(axis=1)
    assert (shift[:-2] > 1e-3).all()  # a few hundred metres inside China
    assert shift[-2] == 0  # London: unchanged
    back = np.array(node_convert([tuple(p) for p in gcj])["gcj02"]["to"])
    assert np.abs(back - points).max() < TOLERANCE
    bd = np.array(converted["bd09"]["from"])
    assert np.abs(bd - gcj).max() > 1e-3  # BD-09 is a further offset


def test_an_unknown_datum_is_an_error() -> None:
    node = shutil.which("node")
    assert node is not None
    script = (
        f"import {{ fromWgs84 }} from {json.dumps(MODULE.as_uri())};"
        "try { fromWgs84([1, 2], 'osgb36'); } catch (e) { console.log(e.message); }"
    )
    done = subprocess.run(  # noqa: S603 - node and a script of our own
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "unknown datum osgb36"


# In the browser: a base map drawn in GCJ-02 by a local tile server, MAP_TILE_DATUM=gcj02.

ZOOM = 17


def world_pixel(lon: float, lat: float, z: int) -> tuple[float, float]:
    """Web Mercator pixel of a point on the whole world's map at zoom z (256-px tiles)."""
    size = 256 * 2**z
    rad = math.radians(lat)
    x = (lon + 180.0) / 360.0 * size
    y = (1.0 - math.log(math.tan(rad) + 1.0 / math.cos(rad)) / math.pi) / 2.0 * size
    return x, y


def png(width: int, dot: tuple[int, int] | None) -> bytes:
    """A transparent tile with a red 7x7 square centred on `dot` (if any)."""
    rows = []
    for y in range(width):
        row = bytearray(b"\x00")  # filter: none
        for x in range(width):
            inside = dot is not None and abs(x - dot[0]) <= 3 and abs(y - dot[1]) <= 3
            row += b"\xff\x00\x00\xff" if inside else b"\x00\x00\x00\x00"
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, width, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


class GcjTiles(http.server.BaseHTTPRequestHandler):
    """/{z}/{x}/{y}.png: the place `target` (WGS 84) drawn where a GCJ-02 map has it."""

    target: tuple[float, float] = (0.0, 0.0)

    def do_GET(self) -> None:
        z, x, y = (int(part) for part in self.path.removesuffix(".png").strip("/").split("/"))
        glon, glat = (float(v[0]) for v in from_wgs84([self.target[0]], [self.target[1]], "gcj02"))
        px, py = world_pixel(glon, glat, z)
        here = (int(px) // 256, int(py) // 256) == (x, y)
        body = png(256, (int(px) % 256, int(py) % 256) if here else None)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def gcj_server(django_db_setup: None) -> Iterator[tuple[str, type[GcjTiles]]]:
    handler = type("Handler", (GcjTiles,), {})
    tiles = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=tiles.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{tiles.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
    try:
        with asgi_server(
            CHANNEL_LAYER_PREFIX=f"test-datum-{uuid.uuid4().hex[:8]}",
            MAP_TILE_URL=url,
            MAP_TILE_ATTRIBUTION="test tiles (GCJ-02)",
            MAP_TILE_DATUM="gcj02",
        ) as base:
            yield base, handler
    finally:
        tiles.shutdown()
        tiles.server_close()


def test_points_and_clicks_land_where_gcj02_tiles_show_them(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    gcj_server: tuple[str, type[GcjTiles]],
) -> None:
    base, handler = gcj_server
    target = centre(small_city[INSPECTOR_CELL])
    handler.target = (target.x, target.y)
    servable_passwords()
    page = log_in(browser, base, "city", viewport={"width": 1200, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    answer = page.goto("/map/command/")
    assert answer is not None and answer.status == 200, page.content()[:3000]
    assert page.evaluate(on_page("() => $config.mapkit.tile_datum")) == "gcj02"
    page.evaluate(
        on_page("([lat, lon, z]) => $map.setView([lat, lon], z, {animate: false})"),
        [target.y, target.x, ZOOM],
    )
    # Where the tiles show the place: the red square of its GCJ-02 tile, on the screen.
    glon, glat = (float(v[0]) for v in from_wgs84([target.x], [target.y], "gcj02"))
    px, py = world_pixel(glon, glat, ZOOM)
    src = f"/{ZOOM}/{int(px) // 256}/{int(py) // 256}.png"
    tile = page.locator(f".leaflet-tile-pane img[src$='{src}']")
    expect(tile).to_have_count(1)
    expect(tile).to_have_js_property("complete", True)
    box = tile.bounding_box()
    assert box is not None
    shown = (box["x"] + px % 256, box["y"] + py % 256)
    # Where the map draws the WGS 84 point (markers, outlines, GPS positions).
    drawn = page.evaluate(
        on_page("""([lat, lon]) => {
            const p = $map.latLngToContainerPoint([lat, lon]);
            const r = $map.getContainer().getBoundingClientRect();
            return [r.left + p.x, r.top + p.y];
        }"""),
        [target.y, target.x],
    )
    assert abs(drawn[0] - shown[0]) < 1.5 and abs(drawn[1] - shown[1]) < 1.5, (drawn, shown)
    # A plain Web Mercator map would draw it hundreds of metres (pixels at z17) away.
    wx, wy = world_pixel(target.x, target.y, ZOOM)
    assert math.hypot(px - wx, py - wy) > 100
    # A click on the red square picks the WGS 84 point (the same for drags: unproject).
    page.evaluate(
        on_page("() => { window.__picked = null; $map.once('click', (e) => {"
                " window.__picked = [e.latlng.lat, e.latlng.lng]; }); }")
    )  # fmt: skip
    page.mouse.click(shown[0], shown[1])
    picked = page.wait_for_function("() => window.__picked").json_value()
    metres = math.hypot(
        (picked[1] - target.x) * 111320 * math.cos(math.radians(target.y)),
        (picked[0] - target.y) * 110540,
    )
    assert metres < 3, metres  # within two pixels at z17
    assert errors == []


def mercator(point: Point) -> Point:
    moved = point.transform(3857, clone=True)
    assert isinstance(moved, Point)
    return moved


@pytest.mark.django_db
def test_vector_tiles_put_wgs84_rows_where_a_gcj02_base_map_shows_them(
    loop: dict[str, User], small_city: dict[str, Area], tmp_path: Path, settings: Settings
) -> None:
    settings.MAP_TILE_DATUM = "gcj02"
    component = add_component(small_city, INSPECTOR_CELL, 7)
    glon, glat = (float(v[0]) for v in from_wgs84([component.geom.x], [component.geom.y], "gcj02"))
    shown = Point(glon, glat, srid=4326)
    # The tile the browser asks for is the base map's (GCJ-02) tile of the place.
    features = Tiles(loop["street"], tmp_path).features("components", shown, 17)
    [feature] = features["components"]
    assert int(feature["id"]) == component.pk
    drawn = feature["geometry"]  # Web Mercator, as GDAL reads the tile at its z/x/y
    expected, plain = mercator(shown), mercator(component.geom)
    assert math.hypot(drawn.x - expected.x, drawn.y - expected.y) < 2  # metres
    assert math.hypot(drawn.x - plain.x, drawn.y - plain.y) > 100  # a real offset
    settings.MAP_TILE_DATUM = "wgs84"
    features = Tiles(loop["street"], tmp_path / "wgs").features("components", component.geom, 17)
    drawn = features["components"][0]["geometry"]
    assert math.hypot(drawn.x - plain.x, drawn.y - plain.y) < 2


RED_CENTRE = """async (data) => {
    // The centre of the red pixels of a screenshot (decoded by the browser itself).
    const image = new Image();
    image.src = "data:image/png;base64," + data;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0);
    const pixels = context.getImageData(0, 0, image.width, image.height).data;
    let sx = 0, sy = 0, n = 0;
    for (let i = 0; i < pixels.length; i += 4) {
        if (pixels[i] > 200 && pixels[i + 1] < 60 && pixels[i + 2] < 60) {
            sx += (i / 4) % image.width; sy += Math.floor(i / 4 / image.width); n += 1;
        }
    }
    return n ? [sx / n, sy / n, n] : null;
}"""


def test_the_admin_map_widget_draws_and_picks_points_on_gcj02_tiles(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    gcj_server: tuple[str, type[GcjTiles]],
) -> None:
    base, handler = gcj_server
    target = centre(small_city[INSPECTOR_CELL])
    handler.target = (target.x, target.y)
    User.objects.create_superuser("gisadmin")
    servable_passwords()
    page = browser.new_context(base_url=base, viewport={"width": 1200, "height": 900}).new_page()  # type: ignore[arg-type]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/admin/login/")
    page.fill("input[name=username]", "gisadmin")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.goto("/admin/layers/component/add/")
    viewport = page.locator(".ol-viewport")
    expect(viewport).to_be_visible()
    page.wait_for_function("() => window.geodjango_geom && window.geodjango_geom.map")
    # Centre the widget's map on the place (WGS 84) and wait for the tiles.
    page.evaluate(
        """([lon, lat, z]) => {
            const view = window.geodjango_geom.map.getView();
            view.setCenter(ol.proj.fromLonLat([lon, lat]));
            view.setZoom(z);
        }""",
        [target.x, target.y, ZOOM],
    )
    page.wait_for_function(
        "() => new Promise((done) => window.geodjango_geom.map.once('rendercomplete', done))"
    )
    box = viewport.bounding_box()
    assert box is not None
    # Where the widget draws the WGS 84 point (features, the point a click stores).
    px, py = page.evaluate(
        """([lon, lat]) => window.geodjango_geom.map.getPixelFromCoordinate(
            ol.proj.fromLonLat([lon, lat]))""",
        [target.x, target.y],
    )
    # Where the tiles show the place: the red square, found on a screenshot of the map.
    shot = base64.b64encode(viewport.screenshot()).decode()
    red = page.evaluate(RED_CENTRE, shot)
    assert red is not None and red[2] >= 25, red  # the 7x7 square (reprojection may blur it)
    assert abs(red[0] - px) < 2 and abs(red[1] - py) < 2, (red, (px, py))
    # A click on the red square stores the WGS 84 point.
    page.mouse.click(box["x"] + red[0], box["y"] + red[1])
    stored = page.locator("textarea#id_geom").input_value()
    drawn = Point(json.loads(stored)["coordinates"], srid=3857).transform(4326, clone=True)
    assert isinstance(drawn, Point)
    metres = math.hypot(
        (drawn.x - target.x) * 111320 * math.cos(math.radians(target.y)),
        (drawn.y - target.y) * 110540,
    )
    assert metres < 3, metres
    assert errors == []
