"""Readers that turn an input file into batches of rows: GeoJSON, GeoPackage, Shapefile
(through GDAL, via pyogrio's Arrow stream) and CSV with longitude/latitude columns."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyogrio
from pyogrio.raw import open_arrow
from pyproj import CRS, Transformer

FloatArray = npt.NDArray[np.float64]

LON_NAMES = ("lon", "lng", "longitude", "x", "经度")
LAT_NAMES = ("lat", "latitude", "y", "纬度")


class SourceError(ValueError):
    """The file as a whole cannot be read (not a per-row problem)."""


@dataclass
class Batch:
    """Rows of an input file: attribute columns as Arrow strings, point coordinates in the
    file's geographic coordinates, and a reason for rows whose geometry is unusable."""

    row: npt.NDArray[np.int64]  # 1-based position of the row in the file
    columns: dict[str, pa.Array]
    lon: FloatArray
    lat: FloatArray
    geometry_error: npt.NDArray[np.object_]  # None where the geometry is a usable point

    def __post_init__(self) -> None:
        # pyarrow.array() of a large numpy text array gives a ChunkedArray (the demo
        # city's generator at full scale); the import's steps take one array a column.
        for name, column in self.columns.items():
            if isinstance(column, pa.ChunkedArray):
                self.columns[name] = column.combine_chunks()

    def __len__(self) -> int:
        return len(self.row)


@dataclass
class Source:
    feature_count: int | None
    field_names: list[str]
    batches: Iterator[Batch]


def open_source(
    path: Path,
    *,
    batch_size: int,
    lon_field: str | None = None,
    lat_field: str | None = None,
) -> Source:
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if path.suffix.lower() in {".csv", ".txt"}:
        return _open_csv(path, batch_size, lon_field, lat_field)
    return _open_gdal(path, batch_size)


def _as_strings(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_string(column.type):
        return column
    if pa.types.is_large_string(column.type):
        return column.cast(pa.string())
    return pc.cast(column, pa.string())


def _open_gdal(path: Path, batch_size: int) -> Source:
    try:
        info = pyogrio.read_info(path)
    except Exception as exc:  # pyogrio raises several GDAL-specific error types
        raise SourceError(f"{path}: cannot be read as a GIS file ({exc})") from exc
    crs = CRS.from_user_input(info["crs"]) if info.get("crs") else None
    # Projected files (e.g. CGCS2000 Gauss-Krüger) are brought to their own geographic
    # coordinates here; the datum (GCJ-02, WGS 84, …) is applied by the caller.
    to_geographic = (
        Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
        if crs is not None and crs.is_projected and crs.geodetic_crs is not None
        else None
    )
    count = int(info["features"]) if info.get("features", -1) >= 0 else None
    fields = [str(f) for f in info["fields"]]

    def batches() -> Iterator[Batch]:
        first_row = 1
        with open_arrow(path, batch_size=batch_size, use_pyarrow=True) as (meta, reader):
            geometry_name = meta["geometry_name"] or "wkb_geometry"
            for record_batch in reader:
                table = pa.Table.from_batches([record_batch])
                wkb = table.column(geometry_name).to_numpy(zero_copy_only=False)
                batch = _points_from_wkb(wkb, first_row)
                if to_geographic is not None:
                    batch.lon, batch.lat = to_geographic.transform(batch.lon, batch.lat)
                batch.columns = {
                    name: _as_strings(table.column(name))
                    for name in table.column_names
                    if name != geometry_name
                }
                first_row += len(batch)
                yield batch

    return Source(count, fields, batches())


def _points_from_wkb(wkb: npt.NDArray[np.object_], first_row: int) -> Batch:
    n = len(wkb)
    rows = np.arange(first_row, first_row + n, dtype=np.int64)
    fast = _simple_points(wkb)
    if fast is not None:
        lon, lat = fast
        error = np.full(n, None, dtype=object)
        error[np.isnan(lon)] = "empty point"
        return Batch(rows, {}, lon, lat, error)
    # Mixed, big-endian or missing geometries: read each record's header, still without
    # building a geometry (coordinates are checked before GEOS sees any, layers.geoinput).
    error = np.full(n, None, dtype=object)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    for i, data in enumerate(wkb):
        lon[i], lat[i], error[i] = _wkb_point(data)
    return Batch(rows, {}, lon, lat, error)


_WKB_TYPES = {
    1: "Point",
    2: "LineString",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}
_EWKB_SRID = 0x20000000


def _wkb_point(data: bytes | None) -> tuple[float, float, str | None]:
    """(x, y, None) of a WKB point (ISO or EWKB, either byte order, Z/M ignored), or
    (nan, nan, why not)."""
    if not data or len(data) < 5 or data[0] not in (0, 1):
        return np.nan, np.nan, "no geometry"
    order = "<" if data[0] == 1 else ">"
    (code,) = struct.unpack_from(order + "I", data, 1)
    kind = (code & 0x0FFFFFFF) % 1000  # ISO Z/M/ZM add 1000/2000/3000; EWKB sets flags
    if kind != 1:
        return np.nan, np.nan, f"geometry must be a Point, got {_WKB_TYPES.get(kind, kind)}"
    offset = 9 if code & _EWKB_SRID else 5
    if len(data) < offset + 16:
        return np.nan, np.nan, "no geometry"
    x, y = struct.unpack_from(order + "dd", data, offset)
    if np.isnan(x) and np.isnan(y):
        return np.nan, np.nan, "empty point"
    return x, y, None


# A 2D point in WKB: byte order (1 = little-endian), type 1, x, y: 21 bytes.
_POINT_WKB = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])


def _simple_points(wkb: npt.NDArray[np.object_]) -> tuple[FloatArray, FloatArray] | None:
    """Coordinates straight from the bytes when every geometry is a little-endian 2D point
    (what GDAL hands over for point layers); None otherwise, for the general path."""
    try:
        raw = b"".join(wkb)
    except TypeError:  # a missing geometry (None)
        return None
    if len(raw) != len(wkb) * _POINT_WKB.itemsize:
        return None
    points = np.frombuffer(raw, dtype=_POINT_WKB)
    if not ((points["order"] == 1) & (points["type"] == 1)).all():
        return None
    return points["x"].astype(np.float64), points["y"].astype(np.float64)


def _pick(names: list[str], wanted: str | None, candidates: tuple[str, ...], what: str) -> str:
    if wanted is not None:
        if wanted not in names:
            raise SourceError(f"{what} column {wanted!r} is not in the file (columns: {names})")
        return wanted
    lowered = {n.lower(): n for n in names}
    for candidate in candidates:
        if candidate in lowered:
            return lowered[candidate]
    raise SourceError(
        f"no {what} column found (looked for {', '.join(candidates)}); name it with --{what}-field"
    )


def _open_csv(path: Path, batch_size: int, lon_field: str | None, lat_field: str | None) -> Source:
    with path.open("r", encoding="utf-8-sig") as f:
        header = f.readline().rstrip("\r\n").split(",")
    names = [h.strip() for h in header]
    lon_name = _pick(names, lon_field, LON_NAMES, "lon")
    lat_name = _pick(names, lat_field, LAT_NAMES, "lat")

    def batches() -> Iterator[Batch]:
        # Every column is read as text: check digits, leading zeros and codes survive, and
        # coordinates that are not numbers become per-row rejections, not a failed file.
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=64 << 20, encoding="utf8"),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in header},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
        first_row = 1
        for record_batch in reader:
            table = pa.Table.from_batches([record_batch])
            table = table.rename_columns(names)
            lon, lon_bad = _numbers(table.column(lon_name))
            lat, lat_bad = _numbers(table.column(lat_name))
            n = table.num_rows
            error = np.full(n, None, dtype=object)
            error[lon_bad | lat_bad] = f"{lon_name}/{lat_name} missing or not a number"
            columns = {
                name: _as_strings(table.column(name))
                for name in names
                if name not in (lon_name, lat_name)
            }
            rows = np.arange(first_row, first_row + n, dtype=np.int64)
            first_row += n
            for start in range(0, n, batch_size):
                part = slice(start, start + batch_size)
                yield Batch(
                    rows[part],
                    {k: v.slice(start, batch_size) for k, v in columns.items()},
                    lon[part],
                    lat[part],
                    error[part],
                )

    return Source(None, [n for n in names if n not in (lon_name, lat_name)], batches())


def _numbers(column: pa.ChunkedArray) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    text = pc.utf8_trim_whitespace(column.combine_chunks())
    numeric = pc.match_substring_regex(text, r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
    numeric = pc.fill_null(numeric, False)
    values = pc.if_else(numeric, text, pa.scalar(None, pa.string()))
    floats = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(floats, dtype=np.float64), ~np.asarray(numeric)
