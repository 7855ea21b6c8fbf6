"""Vectorized placement of many points at once: the bulk twin of layers.placement.

All current cells are loaded once, as their ST_Subdivide pieces (tight bounding boxes),
and bucketed on a uniform grid. A point is tested only against the prepared pieces of its
bucket; a point on a border matches both cells and, as in place_point(), the lower cell
code wins.

Most buckets lie wholly inside one cell (or wholly outside every cell): no piece's
outline passes through them. Such a bucket's points all get the same answer, so the
index works it out once, when it is built, and only the points of buckets that an
outline crosses are tested against polygons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from django.db import connection

from layers.models import Area, AreaPiece, Tier

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
NO_CELL = np.iinfo(np.int64).max
UNKNOWN = -2  # a bucket an outline crosses: its points are tested one by one


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
        self._buckets.settle(self._tested)

    def __len__(self) -> int:
        return len(self.cell_id)

    def locate(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> Placements:
        """Place storage-SRID points; NaN coordinates count as outside."""
        x = np.asarray(lon, dtype=np.float64)
        y = np.asarray(lat, dtype=np.float64)
        cell_idx = self._buckets.known_cell(x, y)
        unknown = np.flatnonzero(cell_idx == UNKNOWN)
        cell_idx[unknown] = self._tested(x[unknown], y[unknown])
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

    def _tested(self, x: FloatArray, y: FloatArray) -> IntArray:
        """Cell index of each point (-1: outside) by testing it against the pieces of its
        bucket."""
        point, piece = self._buckets.candidates(x, y)
        # Each candidate pair is tested against its prepared piece in one vectorized call;
        # `intersects` holds for points on a border too (what `covers` means for a point).
        hit = shapely.intersects_xy(self.pieces[piece], x[point], y[point])
        cell_idx = np.full(len(x), NO_CELL, dtype=np.int64)
        np.minimum.at(cell_idx, point[hit], self.piece_cell[piece[hit]])
        cell_idx[cell_idx == NO_CELL] = -1
        return cell_idx


class _Buckets:
    """A uniform grid over the city; each bucket lists the pieces whose boxes overlap it,
    so a point's candidate pieces are found with array arithmetic alone."""

    # Buckets per side: about 100 m over a 140 km city, ~2 candidate pieces per point. A
    # finer grid settles more points (2048: 74% of the bench's points, 1448: 65%) but
    # takes longer to build, and the build comes before the first row can be placed and
    # sent (docs/performance.md, "A first load at 1M rows: a coarser bucket grid").
    SIZE = 1448
    EDGES_AT_ONCE = 20_000

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
        self.crossed = self._crossed(pieces)
        # Per bucket: the cell index of all its points (-1: outside every cell), or UNKNOWN
        # where an outline crosses it; worked out by settle().
        self.cell = np.full(n * n, UNKNOWN, dtype=np.int64)

    def _crossed(self, pieces: npt.NDArray[np.object_]) -> npt.NDArray[np.bool_]:
        """The buckets that some piece's outline passes through or touches."""
        n = self.SIZE
        crossed = np.zeros(n * n, dtype=bool)
        if not len(pieces):
            return crossed
        lines = shapely.get_parts(shapely.boundary(pieces))
        xy, line = shapely.get_coordinates(lines, return_index=True)
        same = line[:-1] == line[1:]
        a, b = xy[:-1][same], xy[1:][same]
        # In slices of edges: the arrays of their parts stay small and are reused, where
        # all at once they would be fresh memory the kernel must hand over page by page.
        for start in range(0, len(a), self.EDGES_AT_ONCE):
            end = start + self.EDGES_AT_ONCE
            self._mark_crossed(crossed, a[start:end], b[start:end])
        return crossed

    def _mark_crossed(self, crossed: npt.NDArray[np.bool_], a: FloatArray, b: FloatArray) -> None:
        n = self.SIZE
        # Each edge is cut into parts shorter than a bucket on either axis, so the box of
        # a part spans at most two buckets per axis: marking the buckets of its four
        # corners marks every bucket the part passes through. The boxes are widened by
        # far more than the rounding of the cut points, so that no bucket is missed.
        span = np.maximum(np.abs(b[:, 0] - a[:, 0]) / self.dx, np.abs(b[:, 1] - a[:, 1]) / self.dy)
        parts = np.maximum(np.ceil(span / 0.9), 1).astype(np.int64)
        edge, k = _expand(parts)
        t0 = (k / parts[edge])[:, None]
        t1 = ((k + 1) / parts[edge])[:, None]
        p0 = a[edge] + (b[edge] - a[edge]) * t0
        p1 = a[edge] + (b[edge] - a[edge]) * t1
        eps = 1e-9 * max(self.x1 - self.x0, self.y1 - self.y0)
        low = np.minimum(p0, p1) - eps
        high = np.maximum(p0, p1) + eps
        ix0, iy0 = self._index(low[:, 0], low[:, 1])
        ix1, iy1 = self._index(high[:, 0], high[:, 1])
        for iy in (iy0, iy1):
            for ix in (ix0, ix1):
                crossed[iy * n + ix] = True

    def settle(self, test: Callable[[FloatArray, FloatArray], IntArray]) -> None:
        """Work out the cell of every bucket that no outline crosses, with `test` (exact
        placement of points) called once per connected group of such buckets: no outline
        separates the points of a group, so they all lie in the same pieces."""
        n = self.SIZE
        empty = self.start[1:] == self.start[:-1]
        self.cell[empty] = -1  # no piece's box reaches it: outside every cell
        clear = ~self.crossed & ~empty
        # Groups: first the runs of clear buckets along each row of the grid, then runs
        # that touch the run above joined with it (union-find with path halving, in
        # array operations).
        column = np.arange(n * n) % n
        before = np.concatenate([[False], clear[:-1]])
        starts = clear & ((column == 0) | ~before)
        run = np.cumsum(starts) - 1
        runs = int(starts.sum())
        if not runs:
            return
        below = np.flatnonzero(clear[:-n] & clear[n:])
        u, v = run[below], run[below + n]
        # Two runs touch along several buckets: one pair each is enough.
        new = np.ones(len(below), dtype=bool)
        new[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
        u, v = u[new], v[new]
        root = np.arange(runs)
        while True:
            ru, rv = root[u], root[v]
            joined = ru != rv
            if not joined.any():
                break
            np.minimum.at(root, np.maximum(ru, rv)[joined], np.minimum(ru, rv)[joined])
            while True:  # every run straight to its group's lowest run
                up = root[root]
                if (up == root).all():
                    break
                root = up
        # One point per group: the centre of the first bucket of its lowest run, kept only
        # if the grid's own arithmetic puts it back in that bucket.
        groups = np.flatnonzero(root == np.arange(runs))
        first = np.flatnonzero(starts)[groups]
        iy, ix = first // n, first % n
        x = np.asarray(self.x0 + (ix + 0.5) * self.dx, dtype=np.float64)
        y = np.asarray(self.y0 + (iy + 0.5) * self.dy, dtype=np.float64)
        jx, jy = self._index(x, y)
        answer = np.full(runs, UNKNOWN, dtype=np.int64)
        answer[groups] = np.where((jx == ix) & (jy == iy), test(x, y), UNKNOWN)
        self.cell[clear] = answer[root[run[clear]]]

    def known_cell(self, x: FloatArray, y: FloatArray) -> IntArray:
        """Each point's cell index where its bucket settles it (-1: outside every cell),
        else UNKNOWN."""
        n = self.SIZE
        inside = (x >= self.x0) & (x <= self.x1) & (y >= self.y0) & (y <= self.y1)
        ix, iy = self._index(np.where(inside, x, self.x0), np.where(inside, y, self.y0))
        return np.where(inside, self.cell[iy * n + ix], -1)

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
