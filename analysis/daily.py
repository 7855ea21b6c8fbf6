"""Reading the daily counts (analysis.models.DailyCount) for a user's scope.

A user's cases are the cases placed in their area plus those assigned to their unit
elsewhere (incidents.access.case_scope). The daily counts are per district, so they
answer the first part for the city (every district) and for a district's command centre
or leader (one district); the second part — usually a handful of cases — is read from
the cases themselves and added. Any other scope (a street, an inspector) reads the cases.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Q, QuerySet

from incidents.access import assigned_ids, case_scope
from incidents.models import Case
from layers.access import staff_of
from layers.models import Category, Tier

if TYPE_CHECKING:
    from dispatch.evaluation import Period
    from layers.access import AnyUser


@dataclass(frozen=True)
class DailyScope:
    district_id: int | None  # None: every district
    extra: QuerySet[Case]  # the user's cases outside that district (assigned to their unit)


def daily_scope(user: AnyUser) -> DailyScope | None:
    """How the user's cases split into daily counts and cases; None: cases only."""
    scope = case_scope(user)
    if scope is True:
        return DailyScope(district_id=None, extra=Case.objects.none())
    staff = staff_of(user)
    if scope is False or staff is None or staff.unit.area.tier != Tier.DISTRICT:
        return None
    district = staff.unit.area_id
    extra = Case.objects.filter(pk__in=assigned_ids(staff.unit_id)).exclude(district_id=district)
    return DailyScope(district_id=district, extra=extra.order_by())


def category_ids(major: Category | None, category: Category | None) -> list[int] | None:
    """The categories the filters leave, None for all."""
    if category is not None:
        return [category.pk]
    if major is not None:
        rows = Category.objects.filter(kind=major.kind, major_code=major.major_code)
        return list(rows.values_list("pk", flat=True))
    return None


def _where(
    scope: DailyScope, period: Period, categories: list[int] | None
) -> tuple[str, list[Any]]:
    where = ["day >= %s", "day < %s"]
    params: list[Any] = [period.start, period.end]
    if scope.district_id is not None:
        where.append("district_id = %s")
        params.append(scope.district_id)
    if categories is not None:
        where.append("category_id = ANY(%s)")
        params.append(categories)
    return " AND ".join(where), params


def _fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    fold()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def fold() -> None:
    """Move what the case writes appended to analysis_daily_log into analysis_daily
    (migration 0006): before every read, and by the SLA worker on every pass."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT analysis_daily_fold()")


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def trend_counts(
    scope: DailyScope, period: Period, categories: list[int] | None, step: str
) -> tuple[list[tuple[dt.date, int, int]], list[dict[str, Any]]]:
    """From the daily counts, in one statement grouped by day (the week is found here:
    date_trunc per row cost as much as the scan): (bucket, category id, cases reported)
    and, per bucket, n_due, n_suspended, n_closed, n_on_time."""
    where, params = _where(scope, period, categories)
    rows = _fetch(
        "SELECT day, category_id, sum(received), sum(due), sum(due_suspended), "
        f"sum(due_closed), sum(due_on_time) FROM analysis_daily WHERE {where} "
        "GROUP BY day, category_id",
        params,
    )
    bucket_of = (lambda day: day) if step == "day" else _monday
    received: dict[tuple[dt.date, int], int] = defaultdict(int)
    due: dict[dt.date, dict[str, Any]] = {}
    for day, category, n, n_due, suspended, closed, on_time in rows:
        bucket = bucket_of(day)
        if n:
            received[(bucket, category)] += n
        if n_due:
            line = due.setdefault(
                bucket,
                {"bucket": bucket, "n_due": 0, "n_suspended": 0, "n_closed": 0, "n_on_time": 0},
            )
            line["n_due"] += n_due
            line["n_suspended"] += suspended
            line["n_closed"] += closed
            line["n_on_time"] += on_time
    return [(b, c, n) for (b, c), n in received.items()], list(due.values())


def per_district(
    scope: DailyScope, period: Period, categories: list[int] | None
) -> list[tuple[int, int, int]]:
    """(district id, category id, cases reported), from the daily counts."""
    where, params = _where(scope, period, categories)
    return [
        (district, category, n)
        for district, category, n in _fetch(
            f"SELECT district_id, category_id, sum(received) FROM analysis_daily "
            f"WHERE {where} GROUP BY district_id, category_id HAVING sum(received) > 0",
            params,
        )
    ]


def extra_cases(scope: DailyScope, q: Q) -> QuerySet[Case]:
    """The user's cases outside the daily counts, narrowed by `q`."""
    return scope.extra.filter(q)
