"""Import of the official hierarchy (`manage.py import_areas`): city, districts, streets,
communities and grid cells from GeoPackage, Shapefile, GeoJSON or CSV with a WKT column.

Any subset of the tiers may come, in one file (a level column) or one file per tier
(--level). Rows are handled top-down (city first), so a file may hold an area and its
parent. Each row is checked and, if it passes, written; a rejected row goes to the reject
report with its reasons (the same CSV shape as import_layer's: row, key, reason, lon,
lat, then the row's own values), and its children are rejected in turn.

Row checks: a polygon or multipolygon, every vertex in the datum's range
(layers.geoinput), valid; a known level; a code of the tier's length that extends its
parent's code; a name; a parent given by code (parent_code) or, where none is given, found
by containment (the current area of the parent tier that covers the row's point on
surface; for a street a district first, then a city without districts); at most
`nesting_tolerance_m2` of the area outside its parent.

A row whose code names a current area is a change of that area: the same boundary (within
the tolerance), name and parent leave it unchanged; a new name alone is corrected in
place; a new boundary or parent is a dated redraw from --effective (layers.redraw): the old
row is retired, cases keep it, and what was assigned to it follows the successor.

After the writes, the grid checks (layers.grid_check: overlaps, gaps, areas outside their
parent, malformed codes) run over the imported tiers; any problem concerning an imported
area or its parent undoes the whole import. Pieces are rebuilt once at the end, so the
areas are usable for placement at once.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, MultiPolygon, Point
from django.db import transaction
from pyproj import CRS, Geod
from tqdm import tqdm

from gridmgmt import clock
from layers.datum import Datum, parse_datum, to_storage
from layers.geoinput import lonlat_reasons
from layers.grid_check import DEFAULT_TOLERANCE_M2, Finding, Problem, check_grid
from layers.importing.sources import SourceError
from layers.models import CODE_LENGTH, PARENT_TIERS, Area, Tier
from layers.placement import deferred_pieces
from layers.redraw import follow_successors, place_again

FIELDS = ("code", "name", "name_en", "parent_code", "level")
WKT_NAMES = ("wkt", "geom", "geometry", "the_geom", "shape")
# Top-down: parents are written before their children.
TIER_ORDER = [Tier.CITY, Tier.DISTRICT, Tier.STREET, Tier.COMMUNITY, Tier.CELL]
# What official lists call the levels, besides the tier names themselves.
LEVEL_NAMES: dict[str, Tier] = {
    **{tier.value: tier for tier in Tier},
    "市": Tier.CITY,
    "区": Tier.DISTRICT,
    "县": Tier.DISTRICT,
    "区县": Tier.DISTRICT,
    "街道": Tier.STREET,
    "镇": Tier.STREET,
    "乡": Tier.STREET,
    "街道/镇": Tier.STREET,
    "社区": Tier.COMMUNITY,
    "村": Tier.COMMUNITY,
    "社区/村": Tier.COMMUNITY,
    "网格": Tier.CELL,
}
# Areas nested within their parent up to this much outside it (m²): digitising noise.
DEFAULT_NESTING_TOLERANCE_M2 = 1.0
_GEOD = Geod(ellps="WGS84")
# GCJ-02 and BD-09 are non-linear offsets of WGS 84; edges are densified to this length
# (about 50 m) before their vertices are converted.
OFFSET_DATUMS = frozenset({Datum.GCJ02, Datum.BD09})
MAX_SEGMENT_DEGREES = 0.0005


@dataclass
class AreaImportResult:
    read: int = 0
    created: int = 0
    redrawn: int = 0
    renamed: int = 0
    unchanged: int = 0
    rejected: int = 0
    dry_run: bool = False
    report_path: Path | None = None
    replaced: dict[str, int] = field(default_factory=dict)
    followed: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"areas: read {self.read} = created {self.created} + redrawn {self.redrawn} + "
            f"renamed {self.renamed} + unchanged {self.unchanged} + rejected {self.rejected}"
        )
        if any(self.replaced.values()):
            text += "; placed again: " + ", ".join(
                f"{n} {layer}" for layer, n in self.replaced.items() if n
            )
        if any(self.followed.values()):
            text += "; moved to the successors: " + ", ".join(
                f"{n} {what}" for what, n in self.followed.items() if n
            )
        if self.dry_run:
            text += " (dry run: nothing written)"
        if self.report_path is not None and self.rejected:
            text += f"; rejected rows with reasons in {self.report_path}"
        return text


class GridProblems(SourceError):
    """The imported areas would leave the grid with problems; nothing was written."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        lines = "\n".join(f"  {f.problem}: {f}" for f in findings[:50])
        super().__init__(
            f"the imported areas leave {len(findings)} grid problems; nothing was written:\n"
            + lines
        )


@dataclass
class _Row:
    row: int
    values: dict[str, str]  # the file's own columns, as text
    code: str = ""
    name: str = ""
    name_en: str = ""
    parent_code: str = ""
    tier: Tier | None = None
    geom: shapely.Geometry | None = None  # storage coordinates
    point: tuple[float, float] | None = None
    reasons: list[str] = field(default_factory=list)


def import_areas(
    path: Path,
    *,
    level: str | None = None,
    mapping: dict[str, str] | None = None,
    datum: Datum | str = Datum.WGS84,
    effective: dt.date | None = None,
    dry_run: bool = False,
    report_path: Path | None = None,
    tolerance_m2: float = DEFAULT_TOLERANCE_M2,
    nesting_tolerance_m2: float = DEFAULT_NESTING_TOLERANCE_M2,
    wkt_field: str | None = None,
    progress: bool = False,
) -> AreaImportResult:
    datum = parse_datum(datum)
    effective = effective or clock.localdate()
    if effective > clock.localdate():
        raise SourceError(f"--effective {effective} is in the future; areas take effect at once")
    fixed_tier = _level(level) if level else None
    if level and fixed_tier is None:
        raise SourceError(f"unknown --level {level!r}; use one of: {', '.join(Tier.values)}")
    field_names, records = _read(path, wkt_field)
    rename = _resolve_mapping(field_names, mapping or {}, fixed_tier is not None)
    rows = [_prepare(i, values, geom, rename, fixed_tier, datum) for i, values, geom in records]
    report_path = report_path or path.with_name(path.stem + ".rejected.csv")
    result = AreaImportResult(read=len(rows), dry_run=dry_run, report_path=report_path)
    try:
        with transaction.atomic():
            _Writer(result, effective, nesting_tolerance_m2, tolerance_m2, progress).write(rows)
            if dry_run:
                transaction.set_rollback(True)
    finally:
        # Also when grid problems undo the import: the rejected rows may be the cause.
        _write_report(report_path, field_names, rows)
    result.rejected = sum(1 for r in rows if r.reasons)
    return result


def _level(text: str) -> Tier | None:
    return LEVEL_NAMES.get(text.strip().lower()) or LEVEL_NAMES.get(text.strip())


# --- Reading --------------------------------------------------------------------------


def _read(
    path: Path, wkt_field: str | None
) -> tuple[list[str], list[tuple[int, dict[str, str], Any]]]:
    """The file's column names and its rows: (1-based row, values as text, geometry in
    the file's geographic coordinates, or a reason string when unusable)."""
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if path.suffix.lower() in {".csv", ".txt"}:
        return _read_csv(path, wkt_field)
    try:
        frame = pyogrio.read_dataframe(path)
    except Exception as exc:  # pyogrio raises several GDAL-specific error types
        raise SourceError(f"{path}: cannot be read as a GIS file ({exc})") from exc
    crs = CRS.from_user_input(frame.crs) if frame.crs is not None else None
    if crs is not None and crs.is_projected and crs.geodetic_crs is not None:
        # Projected files (e.g. CGCS2000 Gauss-Krüger) to their own geographic coordinates;
        # the datum (--datum) is applied after, as for base layers.
        frame = frame.to_crs(crs.geodetic_crs)
    names = [str(c) for c in frame.columns if c != frame.geometry.name]
    records = []
    for i, (values, geom) in enumerate(
        zip(frame[names].itertuples(index=False), frame.geometry.values, strict=True), start=1
    ):
        text = {
            n: "" if _missing(v) else str(v).strip() for n, v in zip(names, values, strict=True)
        }
        records.append((i, text, geom if geom is not None else "no geometry"))
    return names, records


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _read_csv(
    path: Path, wkt_field: str | None
) -> tuple[list[str], list[tuple[int, dict[str, str], Any]]]:
    csv.field_size_limit(1 << 30)  # boundaries in WKT are long
    with path.open("r", encoding="utf-8-sig", newline="") as stream:
        reader = csv.reader(stream)
        header = [h.strip() for h in next(reader, [])]
        if wkt_field is not None:
            if wkt_field not in header:
                raise SourceError(
                    f"WKT column {wkt_field!r} is not in the file (columns: {header})"
                )
            wkt_name = wkt_field
        else:
            lowered = {h.lower(): h for h in header}
            found = next((lowered[n] for n in WKT_NAMES if n in lowered), None)
            if found is None:
                raise SourceError(
                    f"no WKT column found (looked for {', '.join(WKT_NAMES)}); "
                    "name it with --wkt-field"
                )
            wkt_name = found
        names = [h for h in header if h != wkt_name]
        records = []
        for i, line in enumerate(reader, start=1):
            values = dict(zip(header, (v.strip() for v in line), strict=False))
            text = values.pop(wkt_name, "")
            try:
                geom: Any = shapely.from_wkt(text) if text else "no geometry"
            except shapely.errors.GEOSException as exc:
                geom = f"WKT not readable ({exc})"
            records.append((i, {n: values.get(n, "") for n in names}, geom))
    return names, records


def _resolve_mapping(
    fields: list[str], mapping: dict[str, str], level_given: bool
) -> dict[str, str]:
    """Area field → file column, for the fields the file provides."""
    for target, source in mapping.items():
        if target not in FIELDS:
            raise SourceError(f"--map names {target!r}; map some of: {', '.join(FIELDS)}")
        if source not in fields:
            raise SourceError(f"--map {target}={source}: the file has no column {source!r}")
    rename = dict(mapping)
    for name in FIELDS:
        if name not in rename and name in fields:
            rename[name] = name
    for required in ("code", "name"):
        if required not in rename:
            raise SourceError(
                f"the file has no {required!r} column; name it with --map {required}=<column>"
            )
    if not level_given and "level" not in rename:
        raise SourceError("give the tier with --level, or map a level column (--map level=…)")
    return rename


def _prepare(
    i: int,
    values: dict[str, str],
    geom: Any,
    rename: dict[str, str],
    fixed_tier: Tier | None,
    datum: Datum,
) -> _Row:
    row = _Row(i, values)
    for name in ("code", "name", "name_en", "parent_code"):
        setattr(row, name, values.get(rename[name], "") if name in rename else "")
    if fixed_tier is not None:
        row.tier = fixed_tier
    else:
        text = values.get(rename["level"], "")
        row.tier = _level(text) if text else None
        if row.tier is None:
            row.reasons.append(f"level {text!r} is not one of {', '.join(Tier.values)}")
    if not row.code:
        row.reasons.append("code is empty")
    elif row.tier is not None:
        length = CODE_LENGTH[row.tier]
        if not row.code.isascii() or not row.code.isdigit() or len(row.code) != length:
            row.reasons.append(f"code {row.code!r} is not {length} digits, as a {row.tier} code is")
    if not row.name:
        row.reasons.append("name is empty")
    if isinstance(geom, str):
        row.reasons.append(geom)
        return row
    if shapely.get_type_id(geom) not in (3, 6):  # Polygon, MultiPolygon
        row.reasons.append(f"geometry must be a Polygon or MultiPolygon, got {geom.geom_type}")
        return row
    xy = shapely.get_coordinates(geom)
    if not len(xy):
        row.reasons.append("empty geometry")
        return row
    why = lonlat_reasons(xy[:, 0], xy[:, 1], datum)
    wrong = np.flatnonzero(why.astype(bool))
    if len(wrong):
        j = wrong[0]
        row.reasons.append(f"{why[j]}: ({xy[j, 0]}, {xy[j, 1]})")
        return row
    if not shapely.is_valid(geom):
        row.reasons.append(f"geometry is not valid: {shapely.is_valid_reason(geom)}")
        return row
    if datum in OFFSET_DATUMS:
        # An offset datum bends straight lines: a long edge converted by its two ends only
        # would leave slivers of tens of m² against a neighbour that has a vertex on it.
        geom = shapely.segmentize(geom, MAX_SEGMENT_DEGREES)
    stored = shapely.transform(geom, lambda c: np.column_stack(to_storage(c[:, 0], c[:, 1], datum)))
    if not shapely.is_valid(stored):
        row.reasons.append(f"geometry is not valid: {shapely.is_valid_reason(stored)}")
        return row
    row.geom = stored
    point = shapely.point_on_surface(stored)
    row.point = (point.x, point.y)
    return row


# --- Writing --------------------------------------------------------------------------


def _m2(geom: shapely.Geometry) -> float:
    """Area in square metres on the WGS 84 spheroid (storage is WGS 84 lon/lat)."""
    if geom is None or geom.is_empty:
        return 0.0
    area, _perimeter = _GEOD.geometry_area_perimeter(geom)
    return abs(float(area))


def _geos(geom: shapely.Geometry) -> MultiPolygon:
    value = GEOSGeometry(memoryview(shapely.to_wkb(geom)), srid=settings.GRID_SRID)
    return value if isinstance(value, MultiPolygon) else MultiPolygon(value, srid=value.srid)


def _shape(area: Area) -> shapely.Geometry:
    return shapely.from_wkb(bytes(area.geom.wkb))


class _Writer:
    def __init__(
        self,
        result: AreaImportResult,
        effective: dt.date,
        nesting_tolerance_m2: float,
        tolerance_m2: float,
        progress: bool,
    ) -> None:
        self.result = result
        self.effective = effective
        self.nesting = nesting_tolerance_m2
        self.tolerance = tolerance_m2
        self.progress = progress
        self.touched: set[str] = set()
        self.region: shapely.Geometry | None = None
        self.pairs: list[tuple[Area, Area]] = []
        # Parents by code with their shapes: a city's boundary is read once, not once
        # per district or street. Written rows replace their entries.
        self.parents: dict[str, tuple[Area, shapely.Geometry]] = {}

    def write(self, rows: list[_Row]) -> None:
        seen: dict[str, int] = {}
        for row in rows:
            if row.code and not row.reasons:
                if row.code in seen:
                    row.reasons.append(f"duplicate of row {seen[row.code]}")
                else:
                    seen[row.code] = row.row
        ordered = sorted(
            (r for r in rows if not r.reasons),
            key=lambda r: (TIER_ORDER.index(r.tier) if r.tier else 0, r.code),
        )
        tiers = sorted({r.tier for r in ordered if r.tier}, key=TIER_ORDER.index)
        with (
            tqdm(total=len(ordered), unit=" areas", disable=not self.progress, desc="areas") as bar,
            deferred_pieces(),
        ):
            for row in ordered:
                self._write_row(row)
                bar.update(1)
        # The pieces are rebuilt on leaving deferred_pieces(): placement sees the new grid.
        self.result.followed = follow_successors(self.pairs)
        if self.region is not None:
            self.result.replaced = place_again(
                GEOSGeometry(memoryview(shapely.to_wkb(self.region)), srid=settings.GRID_SRID)
            )
        if tiers:
            self._check(tiers)

    def _write_row(self, row: _Row) -> None:
        assert row.tier is not None and row.geom is not None
        parent = self._parent(row)
        if row.reasons:
            return
        if parent is not None:
            outside = shapely.difference(row.geom, self._parent_shape(parent))
            m2 = _m2(outside)
            if m2 > self.nesting:
                row.reasons.append(
                    f"{m2:,.1f} m² lie outside its parent {parent.code} "
                    f"(tolerance {self.nesting:g} m²)"
                )
                return
        current = Area.objects.current().filter(code=row.code).first()
        if current is None:
            created = Area.objects.create(
                tier=row.tier,
                code=row.code,
                name=row.name,
                name_en=row.name_en,
                parent=parent,
                geom=_geos(row.geom),
                valid_from=self.effective,
            )
            self.parents[row.code] = (created, row.geom)
            self.result.created += 1
            self.touched.add(row.code)
            return
        if current.tier != row.tier:
            row.reasons.append(f"code {row.code} is a current {current.tier}, not a {row.tier}")
            return
        old = _shape(current)
        same_geom = _m2(shapely.symmetric_difference(old, row.geom)) <= self.tolerance
        same_parent = current.parent_id == (parent.pk if parent else None)
        if same_geom and same_parent:
            if (current.name, current.name_en) == (row.name, row.name_en or current.name_en):
                self.result.unchanged += 1
                return
            current.name = row.name
            current.name_en = row.name_en or current.name_en
            current.save(update_fields=["name", "name_en"])
            self.result.renamed += 1
            return
        if self.effective <= current.valid_from:
            row.reasons.append(
                f"{row.code} is valid from {current.valid_from}; a redraw must take effect "
                "later (--effective)"
            )
            return
        current.valid_to = self.effective
        current.save(update_fields=["valid_to"])
        successor = Area.objects.create(
            tier=row.tier,
            code=row.code,
            name=row.name,
            name_en=row.name_en or current.name_en,
            parent=parent,
            geom=_geos(row.geom),
            valid_from=self.effective,
        )
        # Children written later in this import find the successor as the current row;
        # the old row's other current children move to it now.
        Area.objects.current().filter(parent=current).update(parent=successor)
        self.pairs.append((current, successor))
        self.parents[row.code] = (successor, row.geom)
        changed = shapely.union(old, row.geom)
        self.region = changed if self.region is None else shapely.union(self.region, changed)
        self.result.redrawn += 1
        self.touched.add(row.code)

    def _current(self, code: str) -> Area | None:
        if code not in self.parents:
            area = Area.objects.current().filter(code=code).first()
            if area is None:
                return None
            self.parents[code] = (area, _shape(area))
        return self.parents[code][0]

    def _parent_shape(self, parent: Area) -> shapely.Geometry:
        cached = self.parents.get(parent.code)
        if cached is None or cached[0].pk != parent.pk:
            self.parents[parent.code] = (parent, _shape(parent))
        return self.parents[parent.code][1]

    def _parent(self, row: _Row) -> Area | None:
        assert row.tier is not None and row.point is not None
        allowed = PARENT_TIERS.get(row.tier, ())
        if not allowed:
            if row.parent_code:
                row.reasons.append("a city has no parent (parent_code must be empty)")
            return None
        if row.parent_code:
            parent = self._current(row.parent_code)
            if parent is None:
                row.reasons.append(f"parent {row.parent_code} is not a current area")
                return None
            if parent.tier not in allowed:
                row.reasons.append(
                    f"parent {parent.code} is a {parent.tier}, not a "
                    + " or ".join(t.value for t in allowed)
                )
                return None
        else:
            parent = self._containing(row, allowed)
            if parent is None:
                row.reasons.append(
                    f"no parent_code, and no current {' or '.join(t.value for t in allowed)} "
                    "contains it"
                )
                return None
        prefix = (
            parent.code[:4]
            if parent.tier == Tier.CITY and row.tier == Tier.DISTRICT
            else parent.code
        )
        if not row.code.startswith(prefix):
            row.reasons.append(f"code {row.code} does not extend its parent's code {parent.code}")
        return parent

    def _containing(self, row: _Row, allowed: tuple[Tier, ...]) -> Area | None:
        assert row.point is not None
        point = Point(*row.point, srid=settings.GRID_SRID)
        for tier in allowed:  # a district before a city without districts
            parent = (
                Area.objects.current()
                .filter(tier=tier, geom__covers=point)
                .defer("geom")
                .order_by("code")
                .first()
            )
            if parent is not None:
                return self._current(parent.code)
        return None

    def _check(self, tiers: list[Tier]) -> None:
        codes = set(self.touched)
        codes.update(
            Area.objects.current()
            .filter(children__code__in=self.touched, children__valid_to__isnull=True)
            .values_list("code", flat=True)
        )
        findings = [
            f
            for f in check_grid(tiers=[t.value for t in tiers], tolerance_m2=self.tolerance)
            if f.problem != Problem.ORPHAN_PLACEMENT and codes.intersection(f.codes)
        ]
        if findings:
            self.result.findings = findings
            raise GridProblems(findings)


def _write_report(path: Path, field_names: list[str], rows: list[_Row]) -> None:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["row", "key", "reason", "lon", "lat", *field_names])
        for row in rows:
            if row.reasons:
                lon, lat = row.point if row.point else ("", "")
                writer.writerow(
                    [
                        row.row,
                        row.code,
                        "; ".join(row.reasons),
                        lon,
                        lat,
                        *(row.values.get(n, "") for n in field_names),
                    ]
                )
