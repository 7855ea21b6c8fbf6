"""The demo city's addresses are coherent (issue 17): an estate's blocks stand together,
a road is a line through its district with its house numbers in order along it."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pyarrow as pa
import pytest
from pyproj import Transformer

from fixtures.city import load_hierarchy
from fixtures.demo import ROAD_LENGTH_M, address_batches
from layers.importing.cells import CellIndex

# 越秀 and 天河: a small district of the old core and a larger neighbour.
PAIR = ("440104", "440106")
N = 12_000  # about a dozen roads per district


def _local_metres(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Metres east and north of the points' mean (azimuthal equidistant)."""
    to_metres = Transformer.from_crs(
        "EPSG:4326",
        f"+proj=aeqd +lat_0={lat.mean()} +lon_0={lon.mean()} +ellps=WGS84",
        always_xy=True,
    )
    x, y = to_metres.transform(lon, lat)
    return np.asarray(x), np.asarray(y)


@pytest.mark.django_db
def test_estates_stand_together_and_roads_are_lines_through_their_district() -> None:
    load_hierarchy(dt.date(2024, 1, 1), districts=PAIR)
    batches = list(address_batches(N))
    columns = {
        name: pa.concat_arrays([b.columns[name] for b in batches]).to_numpy(zero_copy_only=False)
        for name in ("code", "road", "house_number", "building_name")
    }
    lon = np.concatenate([b.lon for b in batches])
    lat = np.concatenate([b.lat for b in batches])
    district = np.array([code[:6] for code in columns["code"]])
    assert len(lon) >= N - 2 and set(district) == set(PAIR)

    # Every address lies in a cell of its own district.
    cells = CellIndex()
    placed = cells.locate(lon, lat)
    assert not placed.outside.any()
    assert (cells.district_code[placed.cell_index] == district).all()

    # An estate (one house number of one road, blocks 1-7栋 behind its gate): together.
    estate = np.array([re.sub(r"\d+栋$", "", name) for name in columns["building_name"]])
    spreads = []
    for key in {(d, r, h, e) for d, r, h, e in zip(district, columns["road"],
                columns["house_number"], estate, strict=True) if e}:  # fmt: skip
        mine = (
            (district == key[0])
            & (columns["road"] == key[1])
            & (columns["house_number"] == key[2])
            & (estate == key[3])
        )
        x, y = _local_metres(lon[mine], lat[mine])
        spreads.append(np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :]).max())
    assert len(spreads) > 100
    assert max(spreads) < 200, f"an estate's blocks lie {max(spreads):.0f} m apart"

    # A road: one district, near a straight line, house numbers in order along it.
    roads = {(d, r) for d, r in zip(district, columns["road"], strict=True)}
    assert len(roads) >= 2 * 10
    for d, road in roads:
        mine = (district == d) & (columns["road"] == road)
        x, y = _local_metres(lon[mine], lat[mine])
        # The line's direction: the principal axis of the points.
        points = np.column_stack([x - x.mean(), y - y.mean()])
        _, _, axes = np.linalg.svd(points, full_matrices=False)
        along, across = points @ axes[0], points @ axes[1]
        assert np.abs(across).max() < 120, f"{road}: {np.abs(across).max():.0f} m off its line"
        assert np.ptp(along) < ROAD_LENGTH_M[1] + 100
        number = np.array([int(h.rstrip("号")) for h in columns["house_number"][mine]])
        if len(set(number)) > 5:
            order = np.corrcoef(np.argsort(np.argsort(number)), np.argsort(np.argsort(along)))
            assert abs(order[0, 1]) > 0.99, f"{road}: house numbers out of order along it"
