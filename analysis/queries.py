"""Decision analysis (决策分析): selectors over the cases a user may see.

Every view starts from incidents.access.visible_cases(user), the scope of the case list:
a district command centre analyses its district, the city and leaders the whole city.
Each view is one aggregate query (the recurring spots one statement with a window
function); docs/analysis.md gives the definitions, docs/performance.md the timings at
1,000,000 cases.

Views
    hotspots     cases reported (created_at) in the period, per grid cell as filed, with
                 the mean of their points (the map's marker; no polygon is read).
    trends       per day or week (Asia/Shanghai) of the period: cases reported, by major
                 class; cases due (disposal deadline in that day or week, dispatched, not
                 cancelled or merged) and what became of them by now: closed, closed on
                 time, the closure and on-time rates over (due - suspended).
    categories   cases reported in the period per area one tier below the user's (or as
                 asked) and category: the TOP_CATEGORIES most frequent per area.
    recurring    places (grid cell) where the same category was reported at least
                 `times` times within `days` days, inside the period: the list to act on.
    at_risk      open cases whose disposal clock runs, not yet overdue, due within
                 `hours` hours from now, soonest first.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Avg, Count, F, FloatField, Q, QuerySet
from django.db.models.functions import Trunc
from django.db.models.functions.comparison import Cast
from django.db.models.functions.math import Round

from dispatch.evaluation import Period
from incidents.access import visible_cases
from incidents.models import CLOCK_STATES, Case, State
from layers.access import staff_of
from layers.models import Area, Category, Tier
from layers.models.areas import in_language

if TYPE_CHECKING:
    from layers.access import AnyUser

# At most this many cells on the hot-spot map (the busiest); the answer says when more.
HOTSPOT_LIMIT: Final = 5000
TOP_CATEGORIES: Final = 5
RECURRING_LIMIT: Final = 500
AT_RISK_LIMIT: Final = 500
# The area tier one below each tier: what "per area" means for a user of that tier.
BELOW: Final[dict[str, str]] = {
    Tier.CITY: Tier.DISTRICT,
    Tier.DISTRICT: Tier.STREET,
    Tier.STREET: Tier.COMMUNITY,
}
AREA_FIELD: Final[dict[str, str]] = {
    Tier.DISTRICT: "district",
    Tier.STREET: "street",
    Tier.COMMUNITY: "community",
    Tier.CELL: "cell",
}
GONE: Final = frozenset({State.CANCELLED, State.MERGED})


@dataclass(frozen=True)
class Filters:
    """What every view is narrowed by: the period (not for at_risk), a major class of the
    catalogue (a Category row without minor code) and a category."""

    period: Period
    major: Category | None = None
    category: Category | None = None

    def q(self) -> Q:
        q = Q()
        if self.major is not None:
            q &= Q(category__kind=self.major.kind, category__major_code=self.major.major_code)
        if self.category is not None:
            q &= Q(category_id=self.category.pk)
        return q


def local() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def scoped(user: AnyUser, filters: Filters) -> QuerySet[Case]:
    """The user's cases narrowed by class and category (not yet by a period)."""
    return visible_cases(user).filter(filters.q()).order_by()


def _rate(numerator: int, denominator: int) -> float | None:
    return None if denominator <= 0 else round(numerator / denominator, 4)


# --- hot spots -----------------------------------------------------------------------


@dataclass(frozen=True)
class Hotspots:
    rows: list[dict[str, Any]]
    cells: int  # cells with cases, of which the busiest HOTSPOT_LIMIT are in rows
    cases: int


def hotspots(user: AnyUser, filters: Filters) -> Hotspots:
    cases = scoped(user, filters).filter(filters.period.holds("created_at"))
    grouped = (
        cases.values("cell_id")
        .annotate(
            cases=Count("*"),
            lon=Round(Avg(Cast(_x(), FloatField())), 6),
            lat=Round(Avg(Cast(_y(), FloatField())), 6),
        )
        .order_by("-cases", "cell_id")
    )
    rows = list(grouped)
    names = _area_names({row["cell_id"] for row in rows[:HOTSPOT_LIMIT]})
    out = []
    for row in rows[:HOTSPOT_LIMIT]:
        code, name = names.get(row["cell_id"], ("", ""))
        out.append({"code": code, "name": name, **row})
    return Hotspots(rows=out, cells=len(rows), cases=sum(row["cases"] for row in rows))


def _x() -> Any:
    from django.db.models import Func

    return Func(F("geom"), function="ST_X")


def _y() -> Any:
    from django.db.models import Func

    return Func(F("geom"), function="ST_Y")


def _area_names(ids: set[int]) -> dict[int, tuple[str, str]]:
    """Code and name of each area, by id. The ids go as one array parameter: 5,000 of
    them as `IN (%s, …)` cost 0.6 s of client-side binding at 1M cases."""
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, code, name, name_en FROM {Area._meta.db_table} WHERE id = ANY(%s)",
            [sorted(ids)],
        )
        rows = cursor.fetchall()
    return {pk: (code, in_language(name, name_en)) for pk, code, name, name_en in rows}


# --- trends --------------------------------------------------------------------------


@dataclass(frozen=True)
class Trends:
    step: str  # "day" or "week"
    classes: list[dict[str, Any]]  # the major classes with cases: id, code, name
    rows: list[dict[str, Any]]  # one per day/week: bucket, received, class_<id>, due...


def _buckets(period: Period, step: str) -> list[dt.date]:
    first = period.start
    if step == "week":
        first -= dt.timedelta(days=first.weekday())  # date_trunc('week'): Monday
    days = 7 if step == "week" else 1
    out = []
    while first < period.end:
        out.append(first)
        first += dt.timedelta(days=days)
    return out


def trends(user: AnyUser, filters: Filters, step: str) -> Trends:
    base = scoped(user, filters)
    period = filters.period
    bucket = Trunc("created_at", step, output_field=_date_field(), tzinfo=local())
    received = (
        base.filter(period.holds("created_at"))
        .annotate(bucket=bucket)
        .values("bucket", "category_id")
        .annotate(n=Count("*"))
    )
    due_bucket = Trunc("due_at", step, output_field=_date_field(), tzinfo=local())
    counted = ~Q(suspended=True)
    due = (
        base.filter(period.holds("due_at"), dispatched_at__isnull=False)
        .exclude(state__in=GONE)
        .annotate(bucket=due_bucket)
        .values("bucket")
        .annotate(
            n_due=Count("id"),
            n_suspended=Count("id", filter=Q(suspended=True)),
            n_closed=Count("id", filter=counted & Q(closed_at__isnull=False)),
            n_on_time=Count("id", filter=counted & Q(closed_on_time=True)),
        )
    )
    majors, class_of = _catalogue()
    rows: dict[dt.date, dict[str, Any]] = {
        day: {"bucket": day.isoformat(), "received": 0} for day in _buckets(period, step)
    }
    seen: set[int] = set()
    # Grouped by category, not by class: no join, so the covering index of
    # analysis/migrations answers it alone; each category's class is looked up here.
    for row in received.values("bucket", "category_id", "n"):
        major = class_of.get(row["category_id"])
        line = rows.get(row["bucket"])
        if line is None or major is None:
            continue
        seen.add(major.pk)
        key = f"class_{major.pk}"
        line[key] = line.get(key, 0) + row["n"]
        line["received"] += row["n"]
    figures: dict[dt.date, dict[str, Any]] = {
        row["bucket"]: dict(row)
        for row in due.values("bucket", "n_due", "n_suspended", "n_closed", "n_on_time")
    }
    for day, line in rows.items():
        figure = figures.get(day, {})
        closed, on_time = figure.get("n_closed", 0), figure.get("n_on_time", 0)
        counted_due = figure.get("n_due", 0) - figure.get("n_suspended", 0)
        line.update(
            due=figure.get("n_due", 0),
            suspended=figure.get("n_suspended", 0),
            closed=closed,
            closed_on_time=on_time,
            close_rate=_rate(closed, counted_due),
            on_time_rate=_rate(on_time, counted_due),
        )
    classes = [
        {"id": m.pk, "code": m.code, "name": m.display_name}
        for m in sorted(majors.values(), key=lambda m: (m.kind, m.major_code))
        if m.pk in seen
    ]
    for line in rows.values():
        for listed in classes:
            line.setdefault(f"class_{listed['id']}", 0)
    return Trends(step=step, classes=classes, rows=list(rows.values()))


def _date_field() -> Any:
    from django.db.models import DateField

    return DateField()


def _catalogue() -> tuple[dict[tuple[str, str], Category], dict[int, Category]]:
    """The major classes by (kind, major code), and each category's class by its id."""
    rows = list(Category.objects.all())
    majors = {(c.kind, c.major_code): c for c in rows if not c.minor_code}
    class_of = {
        c.pk: majors[(c.kind, c.major_code)]
        for c in rows
        if c.minor_code and (c.kind, c.major_code) in majors
    }
    return majors, class_of


# --- top categories per area ---------------------------------------------------------


def default_tier(user: AnyUser) -> str:
    """The tier one below the user's area (districts for the city and superusers)."""
    staff = staff_of(user)
    tier = staff.unit.area.tier if staff is not None else Tier.CITY
    return BELOW.get(tier, Tier.COMMUNITY)


def top_categories(user: AnyUser, filters: Filters, tier: str) -> list[dict[str, Any]]:
    field = AREA_FIELD[tier]
    grouped = (
        scoped(user, filters)
        .filter(filters.period.holds("created_at"))
        .values(f"{field}_id", "category_id")
        .annotate(n=Count("*"))
    )
    per_area: dict[int, list[tuple[int, int]]] = defaultdict(list)
    row: dict[str, int]
    totals: dict[int, int] = defaultdict(int)
    for row in grouped:
        per_area[row[f"{field}_id"]].append((row["n"], row["category_id"]))
        totals[row[f"{field}_id"]] += row["n"]
    names = _area_names(set(per_area))
    categories = {c.pk: c for c in Category.objects.filter(minor_code__gt="")}
    rows: list[dict[str, Any]] = []
    for area_id, counts in per_area.items():
        code, name = names.get(area_id, ("", ""))
        counts.sort(key=lambda item: (-item[0], item[1]))
        for rank, (n, category_id) in enumerate(counts[:TOP_CATEGORIES], start=1):
            category = categories.get(category_id)
            rows.append(
                {
                    "area_code": code,
                    "area": name,
                    "rank": rank,
                    "category_code": category.code if category else "",
                    "category": category.display_name if category else "",
                    "cases": n,
                    "share": _rate(n, totals[area_id]),
                    "area_cases": totals[area_id],
                }
            )
    rows.sort(key=lambda line: (-line["area_cases"], line["area_code"], line["rank"]))
    return rows


# --- recurring spots -----------------------------------------------------------------

# Groups of (cell, category) with fewer than `times` cases in the whole period cannot
# recur; they are dropped before the window function sorts what is left (measured:
# docs/performance.md).
RECURRING_SQL: Final = """
WITH c AS ({cases}),
groups AS (
    SELECT cell_id, category_id FROM c GROUP BY cell_id, category_id HAVING count(*) >= %s
),
runs AS (
    SELECT c.*, count(*) OVER (
        PARTITION BY c.cell_id, c.category_id ORDER BY c.created_at
        RANGE BETWEEN %s::interval PRECEDING AND CURRENT ROW
    ) AS run
    FROM c JOIN groups USING (cell_id, category_id)
)
SELECT cell_id, category_id, count(*) AS cases, max(run) AS most,
       count(*) FILTER (WHERE state NOT IN ('closed', 'cancelled', 'merged')) AS open,
       min(created_at) AS first, max(created_at) AS last,
       round(avg(ST_X(geom))::numeric, 6)::float AS lon,
       round(avg(ST_Y(geom))::numeric, 6)::float AS lat
FROM runs
GROUP BY cell_id, category_id
HAVING max(run) >= %s
ORDER BY most DESC, cases DESC, cell_id, category_id
LIMIT %s
"""


def recurring(user: AnyUser, filters: Filters, times: int, days: int) -> list[dict[str, Any]]:
    cases = (
        scoped(user, filters)
        .filter(filters.period.holds("created_at"))
        .values("cell_id", "category_id", "created_at", "state", "geom")
    )
    if cases.query.is_empty():
        return []
    sql, params = cases.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            RECURRING_SQL.format(cases=sql),
            [*params, times, f"{int(days)} days", times, RECURRING_LIMIT],
        )
        names = [col[0] for col in cursor.description or []]
        found = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    cells = _area_names({row["cell_id"] for row in found})
    wanted = {r["category_id"] for r in found}
    categories = {c.pk: c for c in Category.objects.filter(pk__in=wanted)}
    zone = local()
    rows = []
    for row in found:
        code, name = cells.get(row["cell_id"], ("", ""))
        category = categories.get(row["category_id"])
        rows.append(
            {
                "cell_code": code,
                "cell": name,
                "category_code": category.code if category else "",
                "category": category.display_name if category else "",
                "cases": row["cases"],
                "most_in_days": row["most"],
                "open": row["open"],
                "first": row["first"].astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "last": row["last"].astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                "lon": row["lon"],
                "lat": row["lat"],
            }
        )
    return rows


# --- cases at risk of missing their deadline -----------------------------------------


def at_risk(user: AnyUser, filters: Filters, hours: int, now: dt.datetime) -> list[dict[str, Any]]:
    # Plain values, no model instances: a page of 500 built as Case objects (with their
    # points parsed by GEOS) cost ten times the query at 1,000,000 cases.
    cases = (
        scoped(user, filters)
        .filter(
            state__in=CLOCK_STATES,
            overdue=False,
            due_at__gte=now,
            due_at__lt=now + dt.timedelta(hours=hours),
        )
        .annotate(lon=Cast(_x(), FloatField()), lat=Cast(_y(), FloatField()))
        .order_by("due_at", "id")
        .values(
            "id", "state", "due_at", "warned", "address_text", "lon", "lat",
            "category__name", "category__name_en", "street__name", "street__name_en",
            "unit__name", "unit__name_en",
        )[:AT_RISK_LIMIT]
    )  # fmt: skip
    zone = local()
    states = dict(State.choices)
    return [_risk(row, now, zone, states) for row in cases]


def _risk(row: Any, now: dt.datetime, zone: ZoneInfo, states: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "state": str(states.get(row["state"], row["state"])),
        "category": in_language(row["category__name"], row["category__name_en"]),
        "street": in_language(row["street__name"], row["street__name_en"]),
        "unit": in_language(row["unit__name"] or "", row["unit__name_en"] or ""),
        "address": row["address_text"],
        "due_at": row["due_at"].astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "hours_left": round((row["due_at"] - now).total_seconds() / 3600, 1),
        "warned": row["warned"],
        "lon": round(row["lon"], 6),
        "lat": round(row["lat"], 6),
    }
