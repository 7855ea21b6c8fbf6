"""Integrity of the grid (`manage.py check_grid`): set-based checks in PostGIS over the
current areas, each problem reported with the area codes and a place to look at.

- invalid: geometries that are not valid (or empty), with the reason and its location;
- overlap: two areas of the same parent whose interiors overlap by more than the tolerance;
- gap: parts of a parent that none of its children cover;
- outside_parent: parts of an area outside its parent (a cell crossing its community);
- orphan_code: no parent, a retired parent, a parent of the wrong tier, a code that does
  not extend its parent's code or has the wrong length for its tier;
- orphan_placement: base-layer records whose placement is NULL or names no current area
  of the right tier (counted per layer and field, with a few example ids).

Areas are measured in square metres on the WGS 84 spheroid (geography). Invalid
geometries are repaired (ST_MakeValid) in a scratch copy before the other checks, so that
one bad area does not stop them (what the repair leaves out may show up as a gap).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from layers.models import (
    CODE_LENGTH,
    PARENT_TIER,
    PARENT_TIERS,
    Address,
    Area,
    Building,
    Component,
    LegalEntity,
    Person,
    Placed,
    Tier,
)

DEFAULT_TOLERANCE_M2 = 1.0
EXAMPLE_IDS = 5
# In a city without districts a record's "district" placement is the city itself.
PLACEMENT_TIERS: dict[str, tuple[Tier, ...]] = {
    "cell": (Tier.CELL,),
    "community": (Tier.COMMUNITY,),
    "street": (Tier.STREET,),
    "district": (Tier.DISTRICT, Tier.CITY),
}
PLACEMENT_FIELDS: dict[str, Tier] = {
    "cell": Tier.CELL,
    "community": Tier.COMMUNITY,
    "street": Tier.STREET,
    "district": Tier.DISTRICT,
}
BASE_LAYERS: tuple[type[Placed], ...] = (Person, LegalEntity, Component, Address, Building)

# Scratch copy of the current areas, geometries repaired where invalid.
_SCRATCH = "grid_check_area"


class Problem(enum.StrEnum):
    INVALID = "invalid"
    OVERLAP = "overlap"
    GAP = "gap"
    OUTSIDE_PARENT = "outside_parent"
    ORPHAN_CODE = "orphan_code"
    ORPHAN_PLACEMENT = "orphan_placement"


PROBLEM_TITLES = {
    Problem.INVALID: "invalid geometries",
    Problem.OVERLAP: "overlaps between sibling areas",
    Problem.GAP: "gaps: parts of a parent not covered by its children",
    Problem.OUTSIDE_PARENT: "areas sticking out of their parent",
    Problem.ORPHAN_CODE: "orphan or malformed codes",
    Problem.ORPHAN_PLACEMENT: "base-layer records with orphan placements",
}


@dataclass(frozen=True)
class Finding:
    """One problem. `codes` are the areas concerned (for a gap: the parent; for an
    overlap: both siblings; for an area outside its parent: the area, then the parent).
    `location` is (lon, lat) in WGS 84. Orphan placements are counted per layer and
    field: `layer` names the model, `count` the records, `example_ids` a few of them."""

    problem: Problem
    tier: str
    detail: str
    codes: tuple[str, ...] = ()
    location: tuple[float, float] | None = None
    area_m2: float | None = None
    layer: str = ""
    count: int = 1
    example_ids: tuple[int, ...] = ()

    def __str__(self) -> str:
        if self.problem == Problem.ORPHAN_PLACEMENT:
            records = "record" if self.count == 1 else "records"
            ids = ", ".join(str(i) for i in self.example_ids)
            example = "id" if len(self.example_ids) == 1 else "ids"
            field = f"{self.layer}.{self.tier}"
            return f"{field}: {self.count} {records} {self.detail}, e.g. {example} {ids}"
        m2 = f"{self.area_m2:,.1f} m²" if self.area_m2 is not None else ""
        match self.problem:
            case Problem.OVERLAP:
                text = f"{self.tier} {self.codes[0]} and {self.codes[1]} overlap by {m2}"
            case Problem.GAP:
                # The parent's tier from its code's length: a street's parent may be a
                # district or, in a city without districts, the city.
                parent = _tier_of_parent(Tier(self.tier), self.codes[0])
                text = f"{parent} {self.codes[0]}: {m2} {self.detail}"
            case Problem.OUTSIDE_PARENT:
                text = f"{self.tier} {self.codes[0]}: {m2} outside its parent {self.codes[1]}"
            case _:
                text = f"{self.tier} {self.codes[0]}: {self.detail}"
        if self.location is not None:
            text += f" at {self.location[0]:.6f}, {self.location[1]:.6f}"
        return text


def _tier_of_parent(child: Tier, code: str) -> str:
    tiers = PARENT_TIERS.get(child, (PARENT_TIER[child],))
    # A district's code and a city's have the same length: a city's ends in 00.
    if Tier.CITY in tiers and (len(tiers) == 1 or code.endswith("00")):
        return Tier.CITY.value
    return tiers[0].value


def check_grid(
    *, tiers: Collection[str] | None = None, tolerance_m2: float = DEFAULT_TOLERANCE_M2
) -> list[Finding]:
    """All problems of the current grid. `tiers` restricts the checks to areas of those
    tiers (for gaps: the coverage of a parent by children of those tiers; for orphan
    placements: the placement fields of those tiers)."""
    selected = _tiers(tiers)
    with transaction.atomic(), connection.cursor() as cursor:
        _make_scratch(cursor)
        findings = [
            *_find_invalid(cursor, selected),
            *_find_overlaps(cursor, selected, tolerance_m2),
            *_find_gaps(cursor, selected, tolerance_m2),
            *_find_outside_parent(cursor, selected, tolerance_m2),
            *_find_orphan_codes(cursor, selected),
            *_find_orphan_placements(cursor, selected),
        ]
        cursor.execute(f"DROP TABLE {_SCRATCH}")
    return findings


def _tiers(tiers: Collection[str] | None) -> list[str]:
    if tiers is None:
        return list(Tier.values)
    unknown = sorted(set(tiers) - set(Tier.values))
    if unknown:
        raise ValueError(f"unknown tiers {unknown}; use some of: {', '.join(Tier.values)}")
    return [tier for tier in Tier.values if tier in tiers]


def _make_scratch(cursor: CursorWrapper) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {_SCRATCH}")
    cursor.execute(
        f"""
        CREATE TEMP TABLE {_SCRATCH} ON COMMIT DROP AS
        SELECT id, code, tier, parent_id, valid,
               CASE WHEN valid THEN geom ELSE ST_Multi(ST_CollectionExtract(ST_MakeValid(geom), 3))
               END AS geom
        FROM (SELECT *, ST_IsValid(geom) AS valid FROM {Area._meta.db_table}
              WHERE valid_to IS NULL) current
        """
    )
    cursor.execute(f"CREATE INDEX ON {_SCRATCH} (parent_id)")
    cursor.execute(f"CREATE INDEX ON {_SCRATCH} (id)")
    cursor.execute(f"ANALYZE {_SCRATCH}")


# SQL snippets: square metres on the spheroid, and a WGS 84 lon/lat for a point.
def _m2(expr: str) -> str:
    return f"ST_Area(ST_Transform({expr}, 4326)::geography)"


def _lonlat(expr: str) -> str:
    return f"ST_X(ST_Transform({expr}, 4326)), ST_Y(ST_Transform({expr}, 4326))"


def _location(lon: float | None, lat: float | None) -> tuple[float, float] | None:
    return None if lon is None or lat is None else (float(lon), float(lat))


# Where GEOS found the fault (ST_IsValidDetail returns it without an SRID), else a point
# of the repaired area (an empty geometry has none).
_INVALID_LOCATION = "coalesce(ST_SetSRID(d.location, ST_SRID(a.geom)), ST_PointOnSurface(s.geom))"


def _find_invalid(cursor: CursorWrapper, tiers: Sequence[str]) -> list[Finding]:
    """Invalid or empty geometries, located where GEOS found the fault."""
    cursor.execute(
        f"""
        SELECT a.tier, a.code, coalesce(d.reason, 'empty geometry'),
               {_lonlat(_INVALID_LOCATION)}
        FROM {Area._meta.db_table} a
        JOIN {_SCRATCH} s ON s.id = a.id
        CROSS JOIN LATERAL ST_IsValidDetail(a.geom) d
        WHERE a.tier = ANY(%s) AND (NOT d.valid OR ST_IsEmpty(a.geom))
        ORDER BY a.code
        """,
        [list(tiers)],
    )
    return [
        Finding(Problem.INVALID, tier, reason, (code,), _location(lon, lat))
        for tier, code, reason, lon, lat in cursor.fetchall()
    ]


def _find_overlaps(
    cursor: CursorWrapper, tiers: Sequence[str], tolerance_m2: float
) -> list[Finding]:
    """Pairs of areas with the same parent whose overlap exceeds the tolerance."""
    cursor.execute(
        f"""
        WITH pairs AS MATERIALIZED (
            SELECT a.tier, a.code AS a_code, b.code AS b_code,
                   ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3) AS overlap
            FROM {_SCRATCH} a
            JOIN {_SCRATCH} b ON b.parent_id = a.parent_id AND a.code < b.code
            WHERE a.tier = ANY(%s) AND a.geom && b.geom
              AND ST_Relate(a.geom, b.geom, '2********')
        )
        SELECT tier, a_code, b_code, {_m2("overlap")}, {_lonlat("ST_PointOnSurface(overlap)")}
        FROM pairs
        WHERE NOT ST_IsEmpty(overlap) AND {_m2("overlap")} > %s
        ORDER BY a_code, b_code
        """,
        [list(tiers), tolerance_m2],
    )
    return [
        Finding(Problem.OVERLAP, tier, "overlap", (a, b), _location(lon, lat), float(m2))
        for tier, a, b, m2, lon, lat in cursor.fetchall()
    ]


def _find_gaps(cursor: CursorWrapper, tiers: Sequence[str], tolerance_m2: float) -> list[Finding]:
    """Parts of each parent not covered by its children of the next tier down (one
    finding per gap polygon above the tolerance; a parent without children is one gap)."""
    findings: list[Finding] = []
    for child_tier in tiers:
        parent_tiers = PARENT_TIERS.get(Tier(child_tier))
        if parent_tiers is None:
            continue
        # A city is covered either by districts or, without districts (不设区的市), by
        # streets: it is checked against streets when it has any, else against districts.
        cursor.execute(
            f"""
            WITH parents AS (
                SELECT p.* FROM {_SCRATCH} p
                CROSS JOIN LATERAL (
                    SELECT EXISTS (SELECT 1 FROM {_SCRATCH} c
                                   WHERE c.parent_id = p.id AND c.tier = 'street') AS streets
                ) k
                WHERE (p.tier = %(parent)s AND NOT (%(child)s = 'district' AND k.streets))
                   OR (p.tier = ANY(%(other)s) AND k.streets)
            ), gaps AS MATERIALIZED (
                SELECT p.code, (ST_Dump(ST_CollectionExtract(
                           CASE WHEN k.covered IS NULL THEN p.geom
                                ELSE ST_Difference(p.geom, k.covered) END, 3))).geom AS gap
                FROM parents p
                CROSS JOIN LATERAL (
                    SELECT ST_Union(c.geom) AS covered FROM {_SCRATCH} c
                    WHERE c.parent_id = p.id AND c.tier = %(child)s
                ) k
            )
            SELECT code, {_m2("gap")}, {_lonlat("ST_PointOnSurface(gap)")}
            FROM gaps WHERE {_m2("gap")} > %(tolerance)s
            ORDER BY code
            """,
            {
                "parent": parent_tiers[0].value,
                "other": [t.value for t in parent_tiers[1:]],
                "child": child_tier,
                "tolerance": tolerance_m2,
            },
        )
        findings += [
            Finding(
                Problem.GAP,
                child_tier,
                f"not covered by any {child_tier}",
                (code,),
                _location(lon, lat),
                float(m2),
            )
            for code, m2, lon, lat in cursor.fetchall()
        ]
    return findings


def _find_outside_parent(
    cursor: CursorWrapper, tiers: Sequence[str], tolerance_m2: float
) -> list[Finding]:
    """Areas with more than the tolerance outside their parent."""
    cursor.execute(
        f"""
        WITH outside AS MATERIALIZED (
            SELECT c.tier, c.code, p.code AS parent_code,
                   ST_CollectionExtract(ST_Difference(c.geom, p.geom), 3) AS part
            FROM {_SCRATCH} c JOIN {_SCRATCH} p ON p.id = c.parent_id
            WHERE c.tier = ANY(%s) AND NOT ST_CoveredBy(c.geom, p.geom)
        )
        SELECT tier, code, parent_code, {_m2("part")}, {_lonlat("ST_PointOnSurface(part)")}
        FROM outside
        WHERE NOT ST_IsEmpty(part) AND {_m2("part")} > %s
        ORDER BY code
        """,
        [list(tiers), tolerance_m2],
    )
    return [
        Finding(
            Problem.OUTSIDE_PARENT,
            tier,
            "outside its parent",
            (code, parent),
            _location(lon, lat),
            float(m2),
        )
        for tier, code, parent, m2, lon, lat in cursor.fetchall()
    ]


def _find_orphan_codes(cursor: CursorWrapper, tiers: Sequence[str]) -> list[Finding]:
    """Areas whose parent link or code breaks the hierarchy (layers.models.areas rules)."""
    rules = [
        (
            tier.value,
            CODE_LENGTH[tier],
            PARENT_TIER[tier].value if tier in PARENT_TIER else None,
            [t.value for t in PARENT_TIERS.get(tier, ())],
        )
        for tier in Tier
    ]
    values = ", ".join(["(%s, %s, %s, %s::text[])"] * len(rules))
    params: list[Any] = [value for rule in rules for value in rule]
    # A city's division code ends in 00 (PPCC00) and its districts share only its first
    # four digits (PPCCDD); streets directly under a city without districts extend its
    # full code (PPCC00SSS); below that every code extends its parent's code.
    cursor.execute(
        f"""
        WITH rules (tier, code_length, parent_tier, parent_tiers) AS (VALUES {values})
        SELECT tier, code, parent_code, reasons, {_lonlat("ST_PointOnSurface(geom)")}
        FROM (
            SELECT a.tier, a.code, p.code AS parent_code, a.geom, array_remove(ARRAY[
                CASE WHEN r.tier IS NULL THEN 'unknown tier' END,
                CASE WHEN a.code !~ '^[0-9]+$' OR length(a.code) <> r.code_length
                     THEN format('code has %%s characters, a %%s code has %%s digits',
                                 length(a.code), a.tier, r.code_length) END,
                CASE WHEN r.parent_tier IS NULL AND a.parent_id IS NOT NULL
                     THEN 'a city has no parent' END,
                CASE WHEN r.parent_tier IS NOT NULL AND a.parent_id IS NULL
                     THEN 'no parent' END,
                CASE WHEN p.valid_to IS NOT NULL
                     THEN format('parent %%s was retired on %%s', p.code, p.valid_to) END,
                CASE WHEN r.parent_tier IS NOT NULL AND p.tier <> ALL(r.parent_tiers)
                     THEN format('parent %%s is a %%s, not a %%s', p.code, p.tier, r.parent_tier)
                     END,
                CASE WHEN p.tier = ANY(r.parent_tiers) AND NOT starts_with(a.code,
                         CASE WHEN p.tier = 'city' AND a.tier = 'district' THEN left(p.code, 4)
                              ELSE p.code END)
                     THEN format('code does not extend parent code %%s', p.code) END
            ], NULL) AS reasons
            FROM {_SCRATCH} a
            LEFT JOIN rules r ON r.tier = a.tier
            LEFT JOIN {Area._meta.db_table} p ON p.id = a.parent_id
            WHERE a.tier = ANY(%s) OR r.tier IS NULL
        ) checked
        WHERE cardinality(reasons) > 0
        ORDER BY code
        """,
        [*params, list(tiers)],
    )
    return [
        Finding(
            Problem.ORPHAN_CODE,
            tier,
            "; ".join(reasons),
            (code,) if parent is None else (code, parent),
            _location(lon, lat),
        )
        for tier, code, parent, reasons, lon, lat in cursor.fetchall()
    ]


def _find_orphan_placements(cursor: CursorWrapper, tiers: Sequence[str]) -> list[Finding]:
    """Base-layer records whose placement field is NULL or names no current area of the
    field's tier; one finding per layer, field and reason."""
    fields = [
        (name, [t.value for t in PLACEMENT_TIERS[name]])
        for name, tier in PLACEMENT_FIELDS.items()
        if tier in tiers
    ]
    if not fields:
        return []
    findings: list[Finding] = []
    for model in BASE_LAYERS:
        # One scan of the layer for all its placement fields.
        values = ", ".join(f"('{name}', t.{name}_id, %s::text[])" for name, _ in fields)
        cursor.execute(
            f"""
            SELECT f.field, CASE
                       WHEN f.area_id IS NULL THEN 'not placed (NULL)'
                       WHEN a.id IS NULL THEN 'placed in a missing area'
                       WHEN a.tier <> ALL(f.tiers) THEN 'placed in an area of the wrong tier'
                       ELSE 'placed in a retired area' END AS reason,
                   count(*), (array_agg(t.id ORDER BY t.id))[1:%s]
            FROM {model._meta.db_table} t
            CROSS JOIN LATERAL (VALUES {values}) f (field, area_id, tiers)
            LEFT JOIN {Area._meta.db_table} a ON a.id = f.area_id
            WHERE f.area_id IS NULL OR a.id IS NULL OR a.tier <> ALL(f.tiers)
               OR a.valid_to IS NOT NULL
            GROUP BY 1, 2
            ORDER BY 1, 2
            """,
            [EXAMPLE_IDS, *(tier for _, tier in fields)],
        )
        findings += [
            Finding(
                Problem.ORPHAN_PLACEMENT,
                field,
                reason,
                layer=model._meta.model_name or "",
                count=count,
                example_ids=tuple(ids),
            )
            for field, reason, count, ids in cursor.fetchall()
        ]
    return findings
