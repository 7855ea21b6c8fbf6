"""Datum conversions (layers.datum) against references derived independently of it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyproj import Geod

from layers.datum import (
    Datum,
    UnknownDatum,
    bd09_to_gcj02,
    from_storage,
    gcj02_to_bd09,
    parse_datum,
    point_from_storage,
    point_to_storage,
    to_storage,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")
# A grid over Guangzhou: 112.95–114.05 E, 22.55–23.95 N.
LON, LAT = (
    a.ravel() for a in np.meshgrid(np.linspace(112.95, 114.05, 23), np.linspace(22.55, 23.95, 29))
)


def metres(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def reference_wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """The published GCJ-02 forward algorithm, written out with the math module, one point
    at a time, separately from the vectorized code under test."""
    a, ee = 6378245.0, 0.00669342162296594323
    x, y = lon - 105.0, lat - 35.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlat += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    dlat += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlon += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    dlon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    dlon += (
        (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    )
    radlat = lat / 180.0 * math.pi
    magic = 1 - ee * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((a * (1 - ee)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (a / sqrtmagic * math.cos(radlat) * math.pi)
    return lon + dlon, lat + dlat


def test_it_matches_published_reference_pairs() -> None:
    # The examples published with the widely used coordtransform library (Beijing).
    x, y = np.array([116.404]), np.array([39.915])
    assert np.allclose(wgs84_to_gcj02(x, y), ([116.41024449916938], [39.91640428150164]), atol=1e-9)
    assert np.allclose(gcj02_to_bd09(x, y), ([116.41036949371029], [39.92133699351022]), atol=1e-9)
    assert np.allclose(bd09_to_gcj02(x, y), ([116.39762729119315], [39.90865673957631]), atol=1e-9)


def test_it_matches_an_independent_implementation_over_guangzhou() -> None:
    expected = np.array([reference_wgs84_to_gcj02(x, y) for x, y in zip(LON, LAT, strict=True)])
    got = np.column_stack(from_storage(LON, LAT, "gcj02"))
    assert np.abs(got - expected).max() < 1e-12


def test_the_gcj02_offset_near_guangzhou_is_hundreds_of_metres() -> None:
    glon, glat = from_storage(LON, LAT, "gcj02")
    offset = metres(LON, LAT, glon, glat)
    assert offset.min() > 200 and offset.max() < 800
    # At 天河 (113.33 E, 23.13 N) it is about half a kilometre.
    tianhe = point_from_storage(113.33, 23.13, "gcj02")
    assert 400 < GEOD.inv(113.33, 23.13, *tianhe)[2] < 700


@pytest.mark.parametrize("datum", list(Datum))
def test_it_round_trips_every_datum_within_a_metre(datum: Datum) -> None:
    lon, lat = to_storage(*from_storage(LON, LAT, datum), datum)
    assert metres(LON, LAT, lon, lat).max() < 1.0
    # GCJ-02 is inverted by iteration to well under a millimetre.
    if datum is Datum.GCJ02:
        assert metres(LON, LAT, lon, lat).max() < 0.001


def test_cgcs2000_and_wgs84_are_stored_as_given_and_points_outside_china_are_not_shifted() -> None:
    assert point_to_storage(113.3, 23.1, "cgcs2000") == (113.3, 23.1)
    assert point_to_storage(113.3, 23.1, "EPSG:4326") == (113.3, 23.1)
    # GCJ-02 applies only inside China: a point in Tokyo comes back unchanged.
    assert point_from_storage(139.76, 35.68, "gcj02") == (139.76, 35.68)


def test_it_names_the_datums_it_knows_when_given_another() -> None:
    assert parse_datum("GCJ-02") is Datum.GCJ02
    assert parse_datum("baidu") is Datum.BD09
    assert parse_datum(" epsg:4490 ") is Datum.CGCS2000
    with pytest.raises(UnknownDatum, match="unknown datum 'mars'; use one of: wgs84, gcj02"):
        parse_datum("mars")
