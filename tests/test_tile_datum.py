"""The browser's datum module (map_ui/static/map_ui/datum.js) agrees with the server's
(layers/datum.py): the same points converted both ways in Node and in NumPy, to well under
a millimetre. The points: the demo city's outline corners (fixtures/guangzhou), and places
across China and outside it (where GCJ-02 leaves coordinates alone)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from layers.datum import Datum, from_wgs84, to_wgs84

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
