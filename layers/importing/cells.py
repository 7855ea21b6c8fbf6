"""Vectorized placement of many points at once: the bulk twin of layers.placement.

All current cells are loaded once, as their ST_Subdivide pieces (tight bounding boxes),
and bucketed on a uniform grid. A point is tested only against the prepared pieces of its
bucket; a point on a border matches both cells and, as in place_point(), the lower cell
code wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from django.db import connection

from layers.models import Area, AreaPiece, Tier

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
NO_CELL = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Placements:
    """Per input point: the index of its cell in CellIndex (-1 when outside the city)
    and the database ids of the cell and its ancestors (0 when outside)."""

    cell_index: IntArray
    cell_id: IntArray
    community_id: IntArray
    street_id: IntArray
    district_id: IntArray

    @property
    def outside(self) -> npt.NDArray[np.bool_]:
        return self.cell_index < 0


class CellIndex:
    """The current grid cells of the city, ready for vectorized point-in-polygon."""

    def __init__(self) -> None:
        area = Area._meta.db_table
        piece = AreaPiece._meta.db_table
        with connection.cursor() as cursor:
            # Cells sorted by code, so that "lowest index" means "lowest code".
            cursor.execute(
                f"""
                SELECT cell.id, cell.code, community.id, street.id, district.id,
                       district.code, district.name
                FROM {area} cell
                JOIN {area} community ON community.id = cell.parent_id
                JOIN {area} street ON street.id = community.parent_id
                JOIN {area} district ON district.id = street.parent_id
                WHERE cell.tier = %s AND cell.valid_to IS NULL
                ORDER BY cell.code
                """,
                [Tier.CELL.value],
            )
            rows = cursor.fetchall()
            cursor.execute(
                f"""
                SELECT p.area_id, ST_AsBinary(p.geom) FROM {piece} p
                WHERE p.tier = %s
                """,
                [Tier.CELL.value],
            )
            pieces = cursor.fetchall()
        self.cell_id = np.array([r[0] for r in rows], dtype=np.int64)
        self.code = np.array([r[1] for r in rows], dtype=object)
        self.community_id = np.array([r[2] for r in rows], dtype=np.int64)
        self.street_id = np.array([r[3] for r in rows], dtype=np.int64)
        self.district_id = np.array([r[4] for r in rows], dtype=np.int64)
        self.district_code = np.array([r[5] for r in rows], dtype=object)
        self.district_name = np.array([r[6] for r in rows], dtype=object)
        position = {cell_id: i for i, cell_id in enumerate(self.cell_id.tolist())}
        # A piece of a cell that is not attached up to a district is ignored: such a
        # cell is an orphan that check_grid reports.
        kept = [(position[a], bytes(g)) for a, g in pieces if a in position]
        self.piece_cell = np.array([k[0] for k in kept], dtype=np.int64)
        self.pieces = shapely.from_wkb([k[1] for k in kept])
        shapely.prepare(self.pieces)
        self._buckets = _Buckets(self.pieces)

    def __len__(self) -> int:
        return len(self.cell_id)

    def locate(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> Placements:
        """Place storage-SRID points; NaN coordinates count as outside."""
        x = np.asarray(lon, dtype=np.float64)
        y = np.asarray(lat, dtype=np.float64)
        point, piece = self._buckets.candidates(x, y)
        # Each candidate pair is tested against its prepared piece in one vectorized call;
        # `intersects` holds for points on a border too (what `covers` means for a point).
        hit = shapely.intersects_xy(self.pieces[piece], x[point], y[point])
        cell_idx = np.full(len(x), NO_CELL, dtype=np.int64)
        np.minimum.at(cell_idx, point[hit], self.piece_cell[piece[hit]])
        cell_idx[cell_idx == NO_CELL] = -1
        inside = cell_idx >= 0
        safe = np.where(inside, cell_idx, 0)

        def pick(values: IntArray) -> IntArray:
            return np.where(inside, values[safe], 0) if len(values) else np.zeros_like(safe)

        return Placements(
            cell_index=cell_idx,
            cell_id=pick(self.cell_id),
            community_id=pick(self.community_id),
            street_id=pick(self.street_id),
            district_id=pick(self.district_id),
        )


class _Buckets:
    """A uniform grid over the city; each bucket lists the pieces whose boxes overlap it,
    so a point's candidate pieces are found with array arithmetic alone."""

    SIZE = 2048  # buckets per side: about 70 m over a 140 km city, ~2 candidates per point

    def __init__(self, pieces: npt.NDArray[np.object_]) -> None:
        n = self.SIZE
        box = shapely.bounds(pieces) if len(pieces) else np.zeros((0, 4))
        self.x0: float = float(box[:, 0].min()) if len(box) else 0.0
        self.y0: float = float(box[:, 1].min()) if len(box) else 0.0
        self.x1: float = float(box[:, 2].max()) if len(box) else 1.0
        self.y1: float = float(box[:, 3].max()) if len(box) else 1.0
        self.dx = max((self.x1 - self.x0) / n, 1e-12)
        self.dy = max((self.y1 - self.y0) / n, 1e-12)
        ix0, iy0 = self._index(box[:, 0], box[:, 1])
        ix1, iy1 = self._index(box[:, 2], box[:, 3])
        nx, ny = ix1 - ix0 + 1, iy1 - iy0 + 1
        piece, k = _expand(nx * ny)
        bucket = (iy0[piece] + k // nx[piece]) * n + ix0[piece] + k % nx[piece]
        order = np.argsort(bucket, kind="stable")
        self.piece = piece[order]
        # Where each bucket's pieces start in self.piece: the running count of the pieces
        # of the buckets before it (a count per bucket, not a search per bucket).
        self.start = np.zeros(n * n + 1, dtype=np.int64)
        np.cumsum(np.bincount(bucket, minlength=n * n), out=self.start[1:])

    def _index(self, x: FloatArray, y: FloatArray) -> tuple[IntArray, IntArray]:
        n = self.SIZE
        ix = np.clip(np.floor((x - self.x0) / self.dx), 0, n - 1).astype(np.int64)
        iy = np.clip(np.floor((y - self.y0) / self.dy), 0, n - 1).astype(np.int64)
        return ix, iy

    def candidates(self, x: FloatArray, y: FloatArray) -> tuple[IntArray, IntArray]:
        """(point index, piece index) pairs whose boxes may hold the point."""
        n = self.SIZE
        # Points and pieces go through the same arithmetic (_index), so a point on a
        # bucket's edge lands in a bucket that lists every piece touching that edge.
        inside = (x >= self.x0) & (x <= self.x1) & (y >= self.y0) & (y <= self.y1)
        ix, iy = self._index(np.where(inside, x, self.x0), np.where(inside, y, self.y0))
        bucket = iy * n + ix
        count = np.where(inside, self.start[bucket + 1] - self.start[bucket], 0)
        point, k = _expand(count)
        return point, self.piece[self.start[bucket[point]] + k]


def _expand(count: IntArray) -> tuple[IntArray, IntArray]:
    """For counts [2, 0, 3]: owners [0, 0, 2, 2, 2] and positions [0, 1, 0, 1, 2]."""
    owner = np.repeat(np.arange(len(count)), count)
    position = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
    return owner, position
