"""The one input boundary for coordinates and geometries.

Everything that comes from outside with a position in it (request bodies, query
parameters, the admin's map widgets, bulk imports, Open311) passes through here before
any of it reaches GEOS, GDAL or the database. The checks run in this order, and the first
that fails answers with a message naming the field:

1. a number: ASCII decimal notation only (no `nan`, `inf`, `1_0`, full-width digits),
   at most COORDINATE_MAX_CHARS characters, and finite once parsed;
2. in range: longitude -180..180, latitude -90..90;
3. inside the valid range of its datum (layers.datum.DATUM_BOUNDS: GCJ-02 and BD-09 are
   defined only over China, CGCS2000 is China's frame);
4. for geometry text (WKT, EWKT, GeoJSON): at most GEOMETRY_INPUT_MAX_CHARS characters
   and GEOMETRY_INPUT_MAX_VERTICES positions, read and checked by this module's own
   scanner, then a valid, non-empty geometry of the expected type;
5. inside the city (layers.placement), where the caller asks for it.

Why so strict: GEOS' WKT writer overruns its stack on a coordinate of 1e308 (the process
dies with "stack smashing detected"), `POINT(NaN NaN)` reads as an empty point that
breaks whatever uses it, and a geometry of millions of vertices pins a worker. No
geometry object exists until the text has passed steps 1-4 as plain Python.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.contrib.gis.geos import GEOSException, GEOSGeometry, Point
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from layers.datum import DATUM_BOUNDS, Bounds, Datum, parse_datum, point_to_storage
from layers.placement import OutsideCity, Placement, place_point

# "-179.12345678901234567890123" is 28 characters; nobody types more for a coordinate.
COORDINATE_MAX_CHARS: Final = 40
# EPSG:3857 (the admin's map widgets): its projected bounds.
MERCATOR_BOUNDS: Final = Bounds(
    -20037508.342789244, -20048966.1040, 20037508.342789244, 20048966.1040
)
GEOGRAPHIC_BOUNDS: Final = Bounds(-180.0, -90.0, 180.0, 90.0)
# SRIDs geometry text may come in; anything else is refused rather than guessed.
INPUT_SRIDS: Final = {4326: GEOGRAPHIC_BOUNDS, 4490: GEOGRAPHIC_BOUNDS, 3857: MERCATOR_BOUNDS}

_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_WKT_TOKEN: Final = re.compile(
    r"\s*(?:(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?)"
    r"|(?P<word>[A-Za-z]+)|(?P<punct>[(),]))"
)
_EWKT_SRID: Final = re.compile(r"\s*SRID=([0-9]{1,6});", re.IGNORECASE)
_WKT_TYPES: Final = frozenset(
    {
        "POINT",
        "LINESTRING",
        "POLYGON",
        "MULTIPOINT",
        "MULTILINESTRING",
        "MULTIPOLYGON",
        "GEOMETRYCOLLECTION",
    }
)
_WKT_WORDS: Final = _WKT_TYPES | {"EMPTY", "Z", "M", "ZM"}
# GeoJSON: how deep the coordinates of each type are nested (0: a position).
_GEOJSON_DEPTH: Final = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "Polygon": 2,
    "MultiLineString": 2,
    "MultiPolygon": 3,
}


class BadCoordinates(ValueError):
    """A coordinate or geometry from outside that may not go further; `field` names the
    input at fault, `message` says what is wrong in words a person can act on."""

    code = "invalid_coordinates"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def max_geometry_chars() -> int:
    return int(settings.GEOMETRY_INPUT_MAX_CHARS)


def max_geometry_vertices() -> int:
    return int(settings.GEOMETRY_INPUT_MAX_VERTICES)


# --- Numbers and points -------------------------------------------------------------------


def parse_number(value: object, *, field: str) -> float:
    """A finite float from a JSON number or a string in plain decimal notation."""
    if isinstance(value, bool):
        raise BadCoordinates(_not_a_number(field), field=field)
    if isinstance(value, int):
        try:
            number = float(value)
        except OverflowError:
            raise BadCoordinates(_not_finite(field), field=field) from None
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > COORDINATE_MAX_CHARS:
            raise BadCoordinates(
                _("%(field)s 过长：坐标最多 %(max)d 个字符。")
                % {"field": field, "max": COORDINATE_MAX_CHARS},
                field=field,
            )
        if not _NUMBER.fullmatch(text):
            raise BadCoordinates(_not_a_number(field), field=field)
        number = float(text)
    else:
        raise BadCoordinates(_not_a_number(field), field=field)
    if not math.isfinite(number):
        raise BadCoordinates(_not_finite(field), field=field)
    return number


def check_longitude(value: float, *, field: str) -> float:
    if not -180.0 <= value <= 180.0:
        raise BadCoordinates(
            _("%(field)s 超出范围：经度应在 -180 到 180 之间。") % {"field": field}, field=field
        )
    return value


def check_latitude(value: float, *, field: str) -> float:
    if not -90.0 <= value <= 90.0:
        raise BadCoordinates(
            _("%(field)s 超出范围：纬度应在 -90 到 90 之间。") % {"field": field}, field=field
        )
    return value


def check_lonlat(
    lon: object, lat: object, datum: Datum | str, *, fields: tuple[str, str] = ("lon", "lat")
) -> tuple[float, float]:
    """Longitude and latitude in `datum`, parsed and checked (steps 1-3)."""
    lon_field, lat_field = fields
    x = check_longitude(parse_number(lon, field=lon_field), field=lon_field)
    y = check_latitude(parse_number(lat, field=lat_field), field=lat_field)
    datum = parse_datum(datum)
    bounds = DATUM_BOUNDS[datum]
    if not bounds.contains(x, y):
        raise BadCoordinates(
            _(
                "%(lon)s/%(lat)s 不在 %(datum)s 坐标系的有效范围内（经度 %(west)s 到 %(east)s，"
                "纬度 %(south)s 到 %(north)s）：请检查坐标和 datum。"
            )
            % {
                "lon": lon_field,
                "lat": lat_field,
                "datum": datum.value,
                "west": bounds.west,
                "east": bounds.east,
                "south": bounds.south,
                "north": bounds.north,
            },
            field=lon_field if not bounds.west <= x <= bounds.east else lat_field,
        )
    return x, y


def storage_point(
    lon: object, lat: object, datum: Datum | str, *, fields: tuple[str, str] = ("lon", "lat")
) -> Point:
    """The point in the storage SRID, after steps 1-3."""
    x, y = check_lonlat(lon, lat, datum, fields=fields)
    sx, sy = point_to_storage(x, y, datum)
    if not (math.isfinite(sx) and math.isfinite(sy)):  # cannot happen in range; be sure
        raise BadCoordinates(_not_finite(fields[0]), field=fields[0])
    return Point(sx, sy, srid=settings.GRID_SRID)


def city_placement(point: Point, *, field: str) -> Placement:
    """Step 5: the grid cell of a checked point, or BadCoordinates if it has none."""
    try:
        return place_point(point)
    except OutsideCity:
        raise BadCoordinates(
            _("%(field)s：位置（%(lon).6f, %(lat).6f）不在本市任何网格内。")
            % {"field": field, "lon": point.x, "lat": point.y},
            field=field,
        ) from None


# --- Many points at once (bulk imports) ---------------------------------------------------

# Marked for makemessages here, translated where a report is written.
REASON_NOT_FINITE = gettext_noop("坐标不是有限数值（NaN 或无穷大）")
REASON_OUT_OF_RANGE = gettext_noop("坐标超出范围：经度应在 -180 到 180，纬度在 -90 到 90 之间")
REASON_OUTSIDE_DATUM = gettext_noop("坐标不在 {datum} 坐标系的有效范围内（请检查坐标和 --datum）")


def lonlat_reasons(
    lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64], datum: Datum | str
) -> npt.NDArray[np.object_]:
    """For each point, None if it passes steps 1-3, else why not (the first failing
    check). Arrays in, no geometry built."""
    datum = parse_datum(datum)
    reasons = np.full(len(lon), None, dtype=object)
    finite = np.isfinite(lon) & np.isfinite(lat)
    with np.errstate(invalid="ignore"):
        in_range = finite & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
        bounds = DATUM_BOUNDS[datum]
        in_datum = (
            in_range
            & (lon >= bounds.west)
            & (lon <= bounds.east)
            & (lat >= bounds.south)
            & (lat <= bounds.north)
        )
    reasons[~finite] = _(REASON_NOT_FINITE)
    reasons[finite & ~in_range] = _(REASON_OUT_OF_RANGE)
    reasons[in_range & ~in_datum] = _(REASON_OUTSIDE_DATUM).format(datum=datum.value)
    return reasons


# --- Geometry text ------------------------------------------------------------------------


def parse_geometry(
    value: object, *, srid: int, field: str, geom_type: str | None = None
) -> GEOSGeometry:
    """A geometry from WKT, EWKT or GeoJSON text, in the storage SRID (steps 1-4).

    `srid` is what the text is in when it does not say (the admin's widgets: 3857);
    `geom_type` (e.g. "POINT") is the only type accepted, if given."""
    if not isinstance(value, str):
        raise BadCoordinates(_not_geometry(field), field=field)
    limit = max_geometry_chars()
    if len(value) > limit:
        raise BadCoordinates(
            _("%(field)s 过长：几何数据最多 %(max)d 个字符，收到 %(n)d 个。")
            % {"field": field, "max": limit, "n": len(value)},
            field=field,
        )
    text = value.strip()
    if text.startswith("{"):
        given_srid, body, positions = srid, text, _geojson_positions(text, field)
    else:
        given_srid, body, positions = _wkt_positions(text, srid, field)
    if given_srid not in INPUT_SRIDS:
        raise BadCoordinates(
            _("%(field)s 的坐标系 SRID=%(srid)d 不受支持：请用 4326、4490 或 3857。")
            % {"field": field, "srid": given_srid},
            field=field,
        )
    _check_positions(positions, INPUT_SRIDS[given_srid], field)
    try:
        geometry = GEOSGeometry(body)
    except (GEOSException, ValueError, TypeError):
        raise BadCoordinates(_not_geometry(field), field=field) from None
    geometry.srid = given_srid
    return _checked_geometry(geometry, field=field, geom_type=geom_type)


def _checked_geometry(geometry: GEOSGeometry, *, field: str, geom_type: str | None) -> GEOSGeometry:
    if geometry.empty:
        raise BadCoordinates(_("%(field)s 是空几何。") % {"field": field}, field=field)
    if geom_type and geom_type != "GEOMETRY" and geometry.geom_type.upper() != geom_type:
        raise BadCoordinates(
            _("%(field)s 应为 %(want)s，收到 %(got)s。")
            % {"field": field, "want": geom_type, "got": geometry.geom_type.upper()},
            field=field,
        )
    if not geometry.valid:
        raise BadCoordinates(
            _("%(field)s 不是有效的几何：%(reason)s")
            % {"field": field, "reason": geometry.valid_reason},
            field=field,
        )
    if geometry.srid != settings.GRID_SRID:
        try:
            geometry.transform(settings.GRID_SRID)
        except GEOSException:
            raise BadCoordinates(_not_geometry(field), field=field) from None
    west, south, east, north = geometry.extent
    finite = all(math.isfinite(v) for v in (west, south, east, north))
    if not finite or not (
        GEOGRAPHIC_BOUNDS.contains(west, south) and GEOGRAPHIC_BOUNDS.contains(east, north)
    ):
        raise BadCoordinates(
            _("%(field)s 超出范围：经度应在 -180 到 180，纬度在 -90 到 90 之间。")
            % {"field": field},
            field=field,
        )
    return geometry


def _check_positions(positions: list[list[float]], bounds: Bounds, field: str) -> None:
    if len(positions) > max_geometry_vertices():
        raise BadCoordinates(
            _("%(field)s 的顶点太多：最多 %(max)d 个，收到 %(n)d 个。")
            % {"field": field, "max": max_geometry_vertices(), "n": len(positions)},
            field=field,
        )
    for position in positions:
        if not all(math.isfinite(v) for v in position):
            raise BadCoordinates(_not_finite(field), field=field)
        if not bounds.contains(position[0], position[1]):
            raise BadCoordinates(
                _("%(field)s 的坐标超出其坐标系的范围。") % {"field": field}, field=field
            )


def _wkt_positions(text: str, srid: int, field: str) -> tuple[int, str, list[list[float]]]:
    """(SRID, WKT without the SRID, positions) of WKT or EWKT text, read token by token:
    only type names, EMPTY/Z/M/ZM, numbers, parentheses and commas; positions of 2 to 4
    numbers; nothing after the geometry (GEOS' reader would silently ignore it)."""
    if match := _EWKT_SRID.match(text):
        srid = int(match.group(1))
        text = text[match.end() :]
    positions: list[list[float]] = []
    current: list[float] = []
    depth = 0
    seen_type = False
    end = 0
    limit = 4 * max_geometry_vertices()
    numbers = 0
    closed = False
    for token in _tokens(text, field):
        kind, value = token
        if closed:
            raise BadCoordinates(_not_geometry(field), field=field)
        if kind == "word":
            word = value.upper()
            if word not in _WKT_WORDS:
                # NaN, Infinity and anything else that is not WKT.
                raise BadCoordinates(_not_finite_or_wkt(field), field=field)
            seen_type = seen_type or word in _WKT_TYPES
            closed = word == "EMPTY" and depth == 0
        elif kind == "number":
            numbers += 1
            if numbers > limit:
                raise BadCoordinates(
                    _("%(field)s 的顶点太多：最多 %(max)d 个。")
                    % {"field": field, "max": max_geometry_vertices()},
                    field=field,
                )
            current.append(float(value))
        else:
            if value == "(":
                depth += 1
            elif value == ")":
                depth -= 1
            if current:
                if not 2 <= len(current) <= 4:
                    raise BadCoordinates(_not_geometry(field), field=field)
                positions.append(current)
                current = []
            if depth < 0:
                raise BadCoordinates(_not_geometry(field), field=field)
            closed = depth == 0
        end += 1
    if not seen_type or depth != 0 or current or end == 0:
        raise BadCoordinates(_not_geometry(field), field=field)
    return srid, text, positions


def _tokens(text: str, field: str) -> Iterator[tuple[str, str]]:
    position = 0
    length = len(text)
    while position < length:
        match = _WKT_TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip() == "":
                return
            raise BadCoordinates(_not_geometry(field), field=field)
        kind = match.lastgroup
        assert kind is not None
        yield kind, match.group(kind)
        position = match.end()


def _geojson_positions(text: str, field: str) -> list[list[float]]:
    """The positions of a GeoJSON geometry object, its structure checked."""

    def refuse_constant(name: str) -> float:
        raise BadCoordinates(_not_finite(field), field=field)

    try:
        data = json.loads(text, parse_constant=refuse_constant)
    except BadCoordinates:
        raise
    except (ValueError, RecursionError):
        raise BadCoordinates(_not_geometry(field), field=field) from None
    positions: list[list[float]] = []
    _geojson_geometry(data, field, positions, nested=False)
    return positions


def _geojson_geometry(data: Any, field: str, out: list[list[float]], *, nested: bool) -> None:
    if not isinstance(data, dict) or "crs" in data:
        raise BadCoordinates(_not_geometry(field), field=field)
    kind = data.get("type")
    if kind == "GeometryCollection" and not nested:
        members = data.get("geometries")
        if not isinstance(members, list):
            raise BadCoordinates(_not_geometry(field), field=field)
        for member in members:
            _geojson_geometry(member, field, out, nested=True)
        return
    if kind not in _GEOJSON_DEPTH:
        raise BadCoordinates(_not_geometry(field), field=field)
    _geojson_coordinates(data.get("coordinates"), _GEOJSON_DEPTH[kind], field, out)


def _geojson_coordinates(value: Any, depth: int, field: str, out: list[list[float]]) -> None:
    if not isinstance(value, list):
        raise BadCoordinates(_not_geometry(field), field=field)
    if depth == 0:
        if not 2 <= len(value) <= 3:
            raise BadCoordinates(_not_geometry(field), field=field)
        out.append([parse_number(v, field=field) for v in value if not isinstance(v, str)])
        if len(out[-1]) != len(value):
            raise BadCoordinates(_not_a_number(field), field=field)
        if len(out) > max_geometry_vertices():
            raise BadCoordinates(
                _("%(field)s 的顶点太多：最多 %(max)d 个。")
                % {"field": field, "max": max_geometry_vertices()},
                field=field,
            )
        return
    for item in value:
        _geojson_coordinates(item, depth - 1, field, out)


# --- Messages -----------------------------------------------------------------------------


def _not_a_number(field: str) -> str:
    return _("%(field)s 应为数值（十进制数字，如 120.153）。") % {"field": field}


def _not_finite(field: str) -> str:
    return _("%(field)s 必须是有限的数值（不能是 NaN 或无穷大）。") % {"field": field}


def _not_finite_or_wkt(field: str) -> str:
    return _("%(field)s 不是有效的 WKT：坐标必须是有限的十进制数值。") % {"field": field}


def _not_geometry(field: str) -> str:
    return _("%(field)s 不是有效的 WKT 或 GeoJSON 几何。") % {"field": field}
