"""Likely duplicates: open cases of the same category near a new report, recently."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.gis.db.models.functions import Distance
from django.contrib.gis.geos import GEOSGeometry
from django.contrib.gis.measure import D
from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from incidents.access import case_scope
from incidents.models import FINAL_STATES, Case
from layers.access import Scope, post_key
from layers.kept_statements import kept_cursor

if TYPE_CHECKING:
    from layers.access import AnyUser

MAX_CANDIDATES = 5
# What a candidate shows (no joins: this runs on every report).
FIELDS = ("id", "state", "category_id", "geom", "created_at", "description")


def likely_duplicates(
    case: Case, *, among: QuerySet[Case] | None = None, limit: int = MAX_CANDIDATES
) -> list[Case]:
    """Open cases of `case`'s category within the category's radius (metres on the
    spheroid) and time window before it, nearest first, each with its `distance`.
    `among`: the cases to look in (those the asking user may see)."""
    category = case.category
    since = case.created_at - timedelta(hours=category.duplicate_window_hours)
    # The caller's scope may come with the case list's joins and prefetches: a candidate
    # reads none of them (FIELDS), and a prefetch over deferred foreign keys would load
    # each candidate's keys one query at a time.
    cases = (
        Case.objects.all() if among is None else among.select_related(None).prefetch_related(None)
    )
    nearby = (
        cases.filter(category_id=category.pk, created_at__gte=since)
        .filter(created_at__lte=case.created_at)
        .exclude(state__in=FINAL_STATES)
        .exclude(pk=case.pk)
        .filter(_within(case, category.duplicate_radius_m))
        .only(*FIELDS)
        .annotate(distance=Distance("geom", case.geom))
        .order_by("distance", "created_at")
    )
    return list(nearby[:limit])


def _within(case: Case, metres: int) -> RawSQL:
    # Metres on the spheroid through the geography cast, written as the GiST index of
    # migration incidents 0002 is, so that the index answers it.
    return RawSQL(
        "ST_DWithin(incidents_case.geom::geography, ST_GeomFromEWKB(%s)::geography, %s)",
        [bytes(case.geom.ewkb), metres],
        output_field=BooleanField(),
    )


# --- the intake's answer: one statement kept per post ------------------------------------


@dataclass(frozen=True)
class _Kept:
    sql: str
    scope_params: tuple[Any, ...]


# Columns of a candidate in the model's order (Model.from_db wants them so).
_COLUMNS = [f for f in Case._meta.concrete_fields if f.attname in FIELDS]
_NAMES = [f.attname for f in _COLUMNS]
_GEOM_AT = _NAMES.index("geom")
# The final states as text, in one order for the statement's placeholders.
_FINAL = tuple(sorted(str(state) for state in FINAL_STATES))
_KEPT: dict[Hashable, _Kept | None] = {}
_KEPT_MAX = 1024  # posts; forgotten all at once when full


def likely_duplicates_seen_by(user: AnyUser, case: Case) -> list[Case]:
    """likely_duplicates(case, among=visible_cases(user)) for a saved case, as one
    statement whose text is built once per post (layers.access.post_key: what every
    scope is built from) and kept prepared: building the ORM query with the user's scope
    cost about a fifth of an intake's CPU."""
    assert case.pk is not None, "a saved case (the probe of an unsaved one excludes none)"
    key = post_key(user)
    try:
        kept = _KEPT[key]
    except KeyError:
        if len(_KEPT) >= _KEPT_MAX:
            _KEPT.clear()
        kept = _KEPT[key] = _build(case_scope(user))
    if kept is None:
        return []
    category = case.category
    since = case.created_at - timedelta(hours=category.duplicate_window_hours)
    point = bytes(case.geom.ewkb)
    params = (
        point,
        category.pk,
        since,
        case.created_at,
        *_FINAL,
        case.pk,
        point,
        category.duplicate_radius_m,
        *kept.scope_params,
        MAX_CANDIDATES,
    )
    with kept_cursor() as cursor:
        cursor.execute(kept.sql, params)
        rows = cursor.fetchall()
    found = []
    for *values, distance in rows:
        values[_GEOM_AT] = GEOSGeometry(values[_GEOM_AT])  # hex EWKB, as the ORM reads it
        candidate = Case.from_db(connection.alias, _NAMES, values)
        candidate.distance = D(m=distance)  # type: ignore[attr-defined]
        found.append(candidate)
    return found


def _build(scope: Scope) -> _Kept | None:
    """The statement of likely_duplicates() with `scope`'s filter compiled by the ORM
    (the same SQL as visible_cases() puts in its WHERE); None for a user who sees none."""
    if scope is False:
        return None
    where, scope_params = "", tuple[Any, ...]()
    if scope is not True:
        query = Case.objects.filter(scope).query
        sql, params = query.get_compiler(connection=connection).compile(query.where)
        where, scope_params = f" AND ({sql})", tuple(params)
    columns = ", ".join(f'incidents_case."{f.column}"' for f in _COLUMNS)
    states = ", ".join(["%s"] * len(_FINAL))
    # As likely_duplicates() builds it: Distance() on a geodetic field is the sphere's.
    sql = (
        f"SELECT {columns}, ST_DistanceSphere(incidents_case.geom, ST_GeomFromEWKB(%s)) AS distance"
        " FROM incidents_case WHERE incidents_case.category_id = %s"
        " AND incidents_case.created_at >= %s AND incidents_case.created_at <= %s"
        f" AND NOT (incidents_case.state IN ({states})) AND NOT (incidents_case.id = %s)"
        " AND ST_DWithin(incidents_case.geom::geography,"
        " ST_GeomFromEWKB(%s)::geography, %s::float8)"
        f"{where} ORDER BY distance ASC, incidents_case.created_at ASC LIMIT %s"
    )
    return _Kept(sql, scope_params)
