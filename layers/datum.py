"""Coordinate datums used in China, converted to and from the storage SRID.

Phone map SDKs (AMap, Tencent) publish GCJ-02, an obfuscated offset of WGS 84 that is a
few hundred metres off in southern China; Baidu publishes BD-09, a further offset of GCJ-02;
official surveying uses CGCS2000 (EPSG:4490), which agrees with WGS 84 to centimetres at
city scale. Storage is settings.GRID_SRID (WGS 84). Every coordinate that enters the
system names its datum and is converted here, at the edge, in vectorized NumPy.

GCJ-02 is published only as the forward transform (WGS 84 → GCJ-02); the inverse is
found by fixed-point iteration, which converges to well under a millimetre.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class Datum(enum.StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"
    CGCS2000 = "cgcs2000"


# What people type for each datum, lower-cased.
_ALIASES = {
    "wgs84": Datum.WGS84,
    "wgs-84": Datum.WGS84,
    "epsg:4326": Datum.WGS84,
    "4326": Datum.WGS84,
    "gcj02": Datum.GCJ02,
    "gcj-02": Datum.GCJ02,
    "gcj": Datum.GCJ02,
    "amap": Datum.GCJ02,
    "bd09": Datum.BD09,
    "bd-09": Datum.BD09,
    "baidu": Datum.BD09,
    "cgcs2000": Datum.CGCS2000,
    "epsg:4490": Datum.CGCS2000,
    "4490": Datum.CGCS2000,
}

DEFAULT_DATUM = Datum.WGS84


class UnknownDatum(ValueError):
    pass


@dataclass(frozen=True)
class Bounds:
    """A longitude/latitude rectangle, border included."""

    west: float
    south: float
    east: float
    north: float

    def contains(self, lon: float, lat: float) -> bool:
        return self.west <= lon <= self.east and self.south <= lat <= self.north


# Where coordinates in each datum mean anything (layers.geoinput refuses the rest).
# GCJ-02 is defined only inside the rectangle where its published algorithm applies the
# offset (outside it the "GCJ-02" coordinates are WGS 84, so a point there is a mistake);
# BD-09 is GCJ-02 shifted by less than 0.02 degrees; CGCS2000 (EPSG:4490) has China,
# onshore and offshore, as its area of use.
DATUM_BOUNDS: dict[Datum, Bounds] = {
    Datum.WGS84: Bounds(-180.0, -90.0, 180.0, 90.0),
    Datum.GCJ02: Bounds(72.004, 0.8293, 137.8347, 55.8271),
    Datum.BD09: Bounds(72.004, 0.8293, 137.8547, 55.8471),
    Datum.CGCS2000: Bounds(73.62, 16.7, 134.77, 53.56),
}


def parse_datum(value: str | Datum) -> Datum:
    """The Datum named by `value` (case-insensitive, common aliases accepted)."""
    if isinstance(value, Datum):
        return value
    try:
        return _ALIASES[value.strip().lower()]
    except KeyError:
        known = ", ".join(d.value for d in Datum)
        raise UnknownDatum(f"unknown datum {value!r}; use one of: {known}") from None


# Krasovsky 1940 ellipsoid, as in the published GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
_BD_PI = np.pi * 3000.0 / 180.0


def _in_china(lon: Any, lat: Any) -> Any:
    # The published algorithm applies the offset only inside this rectangle.
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _gcj_offset(lon: Any, lat: Any, xp: Any) -> tuple[Any, Any]:
    """The GCJ-02 offset at WGS 84 `lon`, `lat`, in `xp`: NumPy for arrays, math for one
    point (NumPy on one-element arrays cost ~20 times as much, docs/performance.md)."""
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = xp.sqrt(abs(x))
    common = (20.0 * xp.sin(6.0 * x * xp.pi) + 20.0 * xp.sin(2.0 * x * xp.pi)) * 2.0 / 3.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * sqrt_abs_x
        + common
        + (20.0 * xp.sin(y * xp.pi) + 40.0 * xp.sin(y / 3.0 * xp.pi)) * 2.0 / 3.0
        + (160.0 * xp.sin(y / 12.0 * xp.pi) + 320.0 * xp.sin(y * xp.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * sqrt_abs_x
        + common
        + (20.0 * xp.sin(x * xp.pi) + 40.0 * xp.sin(x / 3.0 * xp.pi)) * 2.0 / 3.0
        + (150.0 * xp.sin(x / 12.0 * xp.pi) + 300.0 * xp.sin(x / 30.0 * xp.pi)) * 2.0 / 3.0
    )
    rad_lat = lat / 180.0 * xp.pi
    magic = 1.0 - _EE * xp.sin(rad_lat) ** 2
    sqrt_magic = xp.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * xp.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * xp.cos(rad_lat) * xp.pi)
    return dlon, dlat


def _gcj_delta(lon: Any, lat: Any) -> tuple[Any, Any]:
    if isinstance(lon, float):  # one point
        return _gcj_offset(lon, lat, math) if _in_china(lon, lat) else (0.0, 0.0)
    dlon, dlat = _gcj_offset(lon, lat, np)
    inside = _in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Arrays, or the floats of one point."""
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Arrays, or the floats of one point."""
    # Fixed-point iteration on wgs = gcj - delta(wgs); the offset changes by ~1e-5 of
    # itself per metre, so each step gains about five orders of magnitude. Each step
    # makes new values: `lon` and `lat` are never written.
    wlon, wlat = lon, lat
    for _ in range(4):
        glon, glat = wgs84_to_gcj02(wlon, wlat)
        wlon = wlon - (glon - lon)
        wlat = wlat - (glat - lat)
    return wlon, wlat


def gcj02_to_bd09(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _BD_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _BD_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    x = lon - 0.0065
    y = lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _as_arrays(lon: object, lat: object) -> tuple[FloatArray, FloatArray]:
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def to_wgs84(lon: object, lat: object, datum: Datum | str) -> tuple[FloatArray, FloatArray]:
    """Longitudes and latitudes in `datum` → WGS 84 (arrays in, arrays out)."""
    x, y = _as_arrays(lon, lat)
    match parse_datum(datum):
        case Datum.WGS84 | Datum.CGCS2000:
            # CGCS2000 and WGS 84 differ by centimetres at city scale (EPSG publishes the
            # transformation between them as a null transformation); both are stored as is.
            return x.copy(), y.copy()
        case Datum.GCJ02:
            return gcj02_to_wgs84(x, y)
        case Datum.BD09:
            return gcj02_to_wgs84(*bd09_to_gcj02(x, y))
    raise AssertionError("unreachable")


def from_wgs84(lon: object, lat: object, datum: Datum | str) -> tuple[FloatArray, FloatArray]:
    """WGS 84 longitudes and latitudes → `datum`."""
    x, y = _as_arrays(lon, lat)
    match parse_datum(datum):
        case Datum.WGS84 | Datum.CGCS2000:
            return x.copy(), y.copy()
        case Datum.GCJ02:
            return wgs84_to_gcj02(x, y)
        case Datum.BD09:
            return gcj02_to_bd09(*wgs84_to_gcj02(x, y))
    raise AssertionError("unreachable")


# Storage is WGS 84 (settings.GRID_SRID = 4326), so "to storage" is "to WGS 84"; the
# names below are what the rest of the code calls, so that a change of storage SRID
# would be made here and nowhere else.
to_storage = to_wgs84
from_storage = from_wgs84


def point_to_storage(lon: float, lat: float, datum: Datum | str) -> tuple[float, float]:
    """One point in `datum` → storage longitude and latitude."""
    if parse_datum(datum) == Datum.GCJ02:  # phones' datum: in floats, not NumPy
        wlon, wlat = gcj02_to_wgs84(float(lon), float(lat))
        return float(wlon), float(wlat)
    x, y = to_storage(np.array([lon]), np.array([lat]), datum)
    return float(x[0]), float(y[0])


def point_from_storage(lon: float, lat: float, datum: Datum | str) -> tuple[float, float]:
    """One stored point → longitude and latitude in `datum`."""
    x, y = from_storage(np.array([lon]), np.array([lat]), datum)
    return float(x[0]), float(y[0])
