"""The grid cells kept in the server process, for the locate endpoint's lean path.

layers.placement's statement asks PostgreSQL for the lowest-coded cell piece covering a
point, joined up to its district: most of the database's cost of a locate request. A
process that keeps the same pieces in a shapely STRtree answers the same question
without it. A copy is only as good as its freshness, so each carries the grid stamp
(migration layers 0008: one row whose value changes in every transaction that writes
areas or their pieces) read in the same statement as the pieces; the lean path reads
the current stamp with the session, and uses the copy only when the two are equal.

The copy answers exactly as the statement does: the same pieces (`layers_areapiece`,
tier cell, whatever their area's dates), covered border-inclusively (GEOS's covers, as
PostGIS's ST_Covers), the lowest cell code winning among the covering pieces (codes are
compared as the column's C collation compares them: by code point), and the same four
areas with their codes and both names. A cell not hung under a district is kept as
such, so that the caller can hand the request on as the statement's null columns make
it do.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from django.db import connection

from layers.models import Area, AreaPiece, Tier

# What an area of an answer carries: code, name, English name.
AreaNames = tuple[str, str, str]
# The cell's areas, cell first, up to the district; None when the cell is not hung under
# a district (the statement's null columns).
Areas = tuple[AreaNames, AreaNames, AreaNames, AreaNames] | None


@dataclass(frozen=True)
class GridCopy:
    """The cell pieces of one stamp of the grid, indexed for point-in-polygon."""

    stamp: int
    tree: shapely.STRtree
    pieces: np.ndarray  # the piece polygons, in the tree's order
    cell_of_piece: list[int]  # index into `codes` and `areas`
    codes: list[str]
    areas: list[Areas]
    # What a caller made of a cell's areas, by a key of its own that starts with the
    # cell's index (the lean path: a cell's body in a language, ~0.5 kB): kept with the
    # copy, so that a new stamp's copy starts without them.
    made: dict[tuple[Any, ...], Any] = field(default_factory=dict, compare=False)

    def cell_at(self, x: float, y: float) -> int | None:
        """The index (into `codes` and `areas`) of the lowest-coded cell whose piece
        covers (x, y) (storage SRID); None when no piece does."""
        # One call: the pieces whose box holds the point, then those covering it.
        covering = self.tree.query(shapely.Point(x, y), predicate="covered_by")
        if not len(covering):
            return None
        cells = {self.cell_of_piece[i] for i in covering.tolist()}
        return min(cells, key=self.codes.__getitem__)

    def place(self, x: float, y: float) -> Areas | None:
        """The areas of the lowest-coded cell whose piece covers (x, y) (storage SRID);
        None when no piece does. A cell not hung under a district gives its None too."""
        cell = self.cell_at(x, y)
        return None if cell is None else self.areas[cell]


def _load_sql() -> str:
    """The stamp and every cell piece with its cell and the cell's ancestors, in one
    statement (one snapshot: the pieces are those of that stamp). The stamp's row is
    joined to the pieces so that an empty grid still gives its stamp."""
    area, piece = Area._meta.db_table, AreaPiece._meta.db_table
    tiers = ("cell", "community", "street", "district")
    columns = ", ".join(f"{t}.{f}" for t in tiers for f in ("code", "name", "name_en"))
    return (
        f"SELECT g.stamp, x.* FROM layers_gridstamp g LEFT JOIN ("
        f" SELECT cell.id, ST_AsBinary(p.geom), {columns}"
        f" FROM {piece} p JOIN {area} cell ON cell.id = p.area_id"
        f" LEFT JOIN {area} community ON community.id = cell.parent_id"
        f" LEFT JOIN {area} street ON street.id = community.parent_id"
        f" LEFT JOIN {area} district ON district.id = street.parent_id"
        f" WHERE p.tier = %s) x ON true"
    )


def load() -> GridCopy:
    """The grid as the default connection sees it now."""
    with connection.cursor() as cursor:
        cursor.execute(_load_sql(), [Tier.CELL.value])
        rows = cursor.fetchall()
    stamp = int(rows[0][0])
    rows = [row for row in rows if row[1] is not None]
    position: dict[int, int] = {}
    codes: list[str] = []
    areas: list[Areas] = []
    cell_of_piece: list[int] = []
    # A community's, street's and district's names are held once, not once a cell.
    shared: dict[tuple[str, ...], tuple[str, ...]] = {}
    for row in rows:
        cell_id = row[1]
        if cell_id not in position:
            position[cell_id] = len(codes)
            names = [tuple(row[3 + 3 * k : 6 + 3 * k]) for k in range(4)]
            names = [shared.setdefault(n, n) for n in names]
            codes.append(row[3])
            # An ancestor missing: its code is null, as the statement's columns are.
            hung = all(n[0] is not None for n in names)
            areas.append(tuple(names) if hung else None)  # type: ignore[arg-type]
        cell_of_piece.append(position[cell_id])
    # Not prepared: the tree's query prepares the point, and preparing the polygons
    # saved nothing a point (9.7 against 10.1 µs) for 5 MB more (docs/performance.md).
    pieces = np.asarray(shapely.from_wkb([bytes(row[2]) for row in rows]), dtype=object)
    return GridCopy(
        stamp=stamp,
        tree=shapely.STRtree(pieces),
        pieces=pieces,
        cell_of_piece=cell_of_piece,
        codes=codes,
        areas=areas,
    )


_copy: GridCopy | None = None
_loading = threading.Lock()
# How long a request waits for another thread's load before Django answers it instead.
LOAD_WAIT = 5.0


def current(stamp: int) -> GridCopy | None:
    """This process's copy of the grid if it is of `stamp`, else a copy loaded now.

    One thread loads at a time; the others that find the copy stale wait for it (up to
    LOAD_WAIT seconds, then None: Django answers) and use its copy if that is of their
    stamp, else load again. Waiting rather than handing the requests to Django
    meanwhile: Django's path costs twice the CPU, and the load, contending for the
    interpreter with those requests, took seconds instead of a fifth of one
    (docs/performance.md). A copy loaded here may be of a later stamp than `stamp` (a
    change committed between the two reads), which Django's answer could equally have
    seen; never of an earlier one."""
    global _copy
    copy = _copy
    if copy is not None and copy.stamp == stamp:
        return copy
    if not _loading.acquire(timeout=LOAD_WAIT):
        return None
    try:
        copy = _copy
        if copy is None or copy.stamp != stamp:
            copy = _copy = load()
        return copy
    finally:
        _loading.release()


def forget() -> None:
    """Drop this process's copy (tests)."""
    global _copy
    _copy = None
