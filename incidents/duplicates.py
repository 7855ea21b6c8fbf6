"""Likely duplicates: open cases of the same category near a new report, recently."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.gis.db.models.functions import Distance
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from incidents.models import FINAL_STATES, Case

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
