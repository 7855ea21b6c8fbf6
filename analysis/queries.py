"""Decision analysis (决策分析): selectors over the cases a user may see.

Every view starts from incidents.access.visible_cases(user), the scope of the case list:
a district command centre analyses its district, the city and leaders the whole city.
Each view is one aggregate query (the recurring spots one statement with a window
function); docs/analysis.md gives the definitions, docs/performance.md the timings at
1,000,000 cases.

Views
    hotspots     cases reported (created_at) in the period, per grid cell as filed, with
                 a point inside the cell (the map's marker).
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
from django.db import connection, transaction
from django.db.models import Count, F, FloatField, Q, QuerySet
from django.db.models.functions import Trunc
from django.db.models.functions.comparison import Cast

from analysis import daily
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


# Counted per cell (an index-only scan of the user's cases of the period) and cut to the
# busiest HOTSPOT_LIMIT in SQL, with the totals over every cell (a window over the
# grouped rows) and each shown cell's marker: a point inside it (ST_PointOnSurface; the
# mean of the cases' points cost 0.7 s of a 1.0 s year). One statement, plain tuples:
# building 20,000 grouped rows in Python cost more than the statement.
HOTSPOT_SQL: Final = """
WITH counted AS (
    SELECT cell_id, count(*) AS cases FROM ({cases}) AS c GROUP BY cell_id
),
shown AS (
    SELECT cell_id, cases, count(*) OVER () AS cells, sum(cases) OVER () AS total
    FROM counted ORDER BY cases DESC, cell_id LIMIT {limit}
)
SELECT s.cell_id, s.cases, s.cells, s.total, a.code, a.name, a.name_en,
       round(ST_X(a.p)::numeric, 6)::float, round(ST_Y(a.p)::numeric, 6)::float
FROM shown AS s
LEFT JOIN LATERAL (
    SELECT code, name, name_en, ST_PointOnSurface(geom) AS p
    FROM {areas} WHERE id = s.cell_id
) AS a ON true
ORDER BY s.cases DESC, s.cell_id
"""


def hotspots(user: AnyUser, filters: Filters) -> Hotspots:
    cases = _period_columns(user, filters, "cell_id")
    if cases.query.is_empty():
        return Hotspots(rows=[], cells=0, cases=0)
    sql, params = cases.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            HOTSPOT_SQL.format(cases=sql, limit=HOTSPOT_LIMIT, areas=Area._meta.db_table),
            params,
        )
        found = cursor.fetchall()
    rows = [
        {
            "code": code or "",
            "name": in_language(name, name_en) if code else "",
            "cell_id": cell_id,
            "cases": n,
            "lon": lon,
            "lat": lat,
        }
        for cell_id, n, _, _, code, name, name_en, lon, lat in found
    ]
    cells, total = (found[0][2], int(found[0][3])) if found else (0, 0)
    return Hotspots(rows=rows, cells=cells, cases=total)


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


def _received_cases(
    cases: QuerySet[Case], period: Period, step: str
) -> list[tuple[dt.date, int, int]]:
    bucket = Trunc("created_at", step, output_field=_date_field(), tzinfo=local())
    grouped = (
        cases.filter(period.holds("created_at"))
        .annotate(bucket=bucket)
        .values("bucket", "category_id")
        .annotate(n=Count("*"))
    )
    return [(row["bucket"], row["category_id"], row["n"]) for row in grouped]


def _due_cases(cases: QuerySet[Case], period: Period, step: str) -> list[dict[str, Any]]:
    due_bucket = Trunc("due_at", step, output_field=_date_field(), tzinfo=local())
    counted = ~Q(suspended=True)
    due = (
        cases.filter(period.holds("due_at"), dispatched_at__isnull=False)
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
    return [
        dict(row) for row in due.values("bucket", "n_due", "n_suspended", "n_closed", "n_on_time")
    ]


def _trend_counts(
    user: AnyUser, filters: Filters, step: str
) -> tuple[list[tuple[dt.date, int, int]], list[dict[str, Any]]]:
    """What was reported per (bucket, category) and what fell due per bucket: from the
    daily counts where the user's scope allows (analysis.daily), else from the cases."""
    period = filters.period
    split = daily.daily_scope(user)
    if split is None:
        cases = scoped(user, filters)
        return _received_cases(cases, period, step), _due_cases(cases, period, step)
    categories = daily.category_ids(filters.major, filters.category)
    extra = daily.extra_cases(split, filters.q())
    received, due = daily.trend_counts(split, period, categories, step)
    return received + _received_cases(extra, period, step), due + _due_cases(extra, period, step)


def trends(user: AnyUser, filters: Filters, step: str) -> Trends:
    period = filters.period
    received, due = _trend_counts(user, filters, step)
    majors, class_of = _catalogue()
    rows: dict[dt.date, dict[str, Any]] = {
        day: {"bucket": day.isoformat(), "received": 0} for day in _buckets(period, step)
    }
    seen: set[int] = set()
    # Grouped by category, not by class: each category's class is looked up here.
    for bucket, category_id, n in received:
        major = class_of.get(category_id)
        line = rows.get(bucket)
        if line is None or major is None:
            continue
        seen.add(major.pk)
        key = f"class_{major.pk}"
        line[key] = line.get(key, 0) + n
        line["received"] += n
    figures: dict[dt.date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in due:
        for key in ("n_due", "n_suspended", "n_closed", "n_on_time"):
            figures[row["bucket"]][key] += row[key]
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


def _grouped(cases: QuerySet[Any], *columns: str) -> list[tuple[Any, ...]]:
    """(*columns, count) of the rows of `cases` (a values() query, maybe a union)."""
    if cases.query.is_empty():
        return []
    sql, params = cases.query.sql_with_params()
    keys = ", ".join(columns)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {keys}, count(*) FROM ({sql}) AS c GROUP BY {keys}", params)
        return cursor.fetchall()


def _area_counts(user: AnyUser, filters: Filters, tier: str) -> list[tuple[int, int, int]]:
    """(area id, category id, cases reported); per district from the daily counts where
    the user's scope allows (one (area, category) may come twice: summed by the caller),
    else from the user's cases of the period (a district's as _period_columns splits it)."""
    field = f"{AREA_FIELD[tier]}_id"
    split = daily.daily_scope(user) if tier == Tier.DISTRICT else None
    if split is None:
        cases = _period_columns(user, filters, field, "category_id")
        return [(a, c, n) for a, c, n in _grouped(cases, field, "category_id")]
    categories = daily.category_ids(filters.major, filters.category)
    rows = daily.per_district(split, filters.period, categories)
    extra = daily.extra_cases(split, filters.q()).filter(filters.period.holds("created_at"))
    grouped = _grouped(extra.values(field, "category_id"), field, "category_id")
    return rows + [(a, c, n) for a, c, n in grouped]


def top_categories(user: AnyUser, filters: Filters, tier: str) -> list[dict[str, Any]]:
    per_area: dict[int, list[tuple[int, int]]] = defaultdict(list)
    totals: dict[int, int] = defaultdict(int)
    summed: dict[tuple[int, int], int] = defaultdict(int)
    for area_id, category_id, n in _area_counts(user, filters, tier):
        summed[(area_id, category_id)] += n
    for (area_id, category_id), n in summed.items():
        per_area[area_id].append((n, category_id))
        totals[area_id] += n
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

# Two statements. The first counts, for each (cell, category), its cases within `days`
# days of each case (a window) and keeps the RECURRING_LIMIT places that recur most. The
# window costs ~0.8 µs a case (a year of the city: 0.9 million cases, 0.75 s even read in
# the index's order), so it runs only over the places that can make the list: a place's
# most cases within `days` days are at most its cases in the period (`n`, one count per
# place along the index (cell, category, created_at)). The window runs first over the
# RECURRING_FIRST × RECURRING_LIMIT places with most cases; the RECURRING_LIMIT-th of the
# list it gives (`bound`) is beaten by no place with fewer cases than its count, so it
# runs then over the other places with at least `bound` cases only (a year of the city:
# 1,000 + 6,700 of 78,600 places, 230,000 of 912,000 cases). Exactly the window over every
# place: the list is the same. The second statement reads what the list shows of those
# places only: cases still open and the mean of their points (docs/performance.md).
RECURRING_WORK_MEM: Final = "128MB"
# The window runs first over this many times RECURRING_LIMIT places with most cases: a
# higher bound, fewer places after (a year of the city: 18 % less CPU than 1×, 2× as 4×).
RECURRING_FIRST: Final = 2
RECURRING_RUNS: Final = """
SELECT c.cell_id, c.category_id, count(*) AS cases, max(run) AS most,
       min(c.created_at) AS first, max(c.created_at) AS last
FROM (
    SELECT c.cell_id, c.category_id, c.created_at, count(*) OVER (
        PARTITION BY c.cell_id, c.category_id ORDER BY c.created_at
        RANGE BETWEEN '{days} days'::interval PRECEDING AND CURRENT ROW
    ) AS run
    FROM c JOIN {places} AS p ON p.cell_id = c.cell_id AND p.category_id = c.category_id
) AS c
GROUP BY c.cell_id, c.category_id
"""
RECURRING_SQL: Final = """
WITH c AS NOT MATERIALIZED ({cases}),
places AS MATERIALIZED (
    SELECT cell_id, category_id, count(*) AS n FROM c
    GROUP BY cell_id, category_id HAVING count(*) >= {times}
),
busiest AS MATERIALIZED (
    SELECT cell_id, category_id FROM places ORDER BY n DESC, cell_id, category_id LIMIT {first}
),
found AS MATERIALIZED ({busiest_runs}),
bound AS (
    SELECT coalesce((
        SELECT most FROM found WHERE most >= {times}
        ORDER BY most DESC OFFSET {limit} - 1 LIMIT 1
    ), {times}) AS most
),
rest AS MATERIALIZED (
    SELECT p.cell_id, p.category_id FROM places AS p, bound WHERE p.n >= bound.most
    EXCEPT SELECT cell_id, category_id FROM busiest
)
SELECT * FROM (SELECT * FROM found UNION ALL {rest_runs}) AS r
WHERE most >= {times}
ORDER BY most DESC, cases DESC, cell_id, category_id
LIMIT {limit}
"""


def _recurring_sql(cases: str, times: int, days: int) -> str:
    """The list statement over `cases` (SQL of the user's narrow cases of the period; its
    parameters are the statement's); the integers are written in, validated by the API."""
    return RECURRING_SQL.format(
        cases=cases,
        times=int(times),
        limit=RECURRING_LIMIT,
        first=RECURRING_FIRST * RECURRING_LIMIT,
        busiest_runs=RECURRING_RUNS.format(days=int(days), places="busiest"),
        rest_runs=RECURRING_RUNS.format(days=int(days), places="rest"),
    )


# Per listed place (LATERAL: each place's cases in the index's order, no sort of them
# all), along analysis_case_place_detail, which carries state and point (no heap reads).
RECURRING_DETAIL_SQL: Final = """
SELECT p.cell_id, p.category_id, d.open, d.lon, d.lat
FROM unnest(%s::bigint[], %s::bigint[]) AS p (cell_id, category_id)
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE c.state NOT IN ('closed', 'cancelled', 'merged')) AS open,
           round(avg(ST_X(c.geom))::numeric, 6)::float AS lon,
           round(avg(ST_Y(c.geom))::numeric, 6)::float AS lat
    FROM ({cases}) AS c
    WHERE c.cell_id = p.cell_id AND c.category_id = p.category_id
) AS d
"""


def _fetch_dicts(sql: str, params: list[Any]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [col[0] for col in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _period_columns(user: AnyUser, filters: Filters, *columns: str) -> QuerySet[Any]:
    """`columns` of the user's cases of the period. A district's scope (its cases, or
    assigned to its unit) as a UNION ALL of the district's cases and the few elsewhere:
    as one OR it made PostgreSQL read every case of the city (2.2 s at 1,000,000)."""
    period = filters.period.holds("created_at")
    split = daily.daily_scope(user)
    if split is None or split.district_id is None:
        return scoped(user, filters).filter(period).values(*columns)
    own = Case.objects.filter(filters.q(), period, district_id=split.district_id).order_by()
    extra = daily.extra_cases(split, filters.q()).filter(period)
    return own.values(*columns).union(extra.values(*columns), all=True)


def recurring(user: AnyUser, filters: Filters, times: int, days: int) -> list[dict[str, Any]]:
    narrow = _period_columns(user, filters, "cell_id", "category_id", "created_at")
    if narrow.query.is_empty():
        return []
    sql, params = narrow.query.sql_with_params()
    with transaction.atomic():
        with connection.cursor() as cursor:  # for this transaction only
            cursor.execute(f"SET LOCAL work_mem = '{RECURRING_WORK_MEM}'")
        found = _fetch_dicts(_recurring_sql(sql, times, days), list(params))
    if not found:
        return []
    wide = _period_columns(user, filters, "cell_id", "category_id", "state", "geom")
    sql, params = wide.query.sql_with_params()
    details = {
        (row["cell_id"], row["category_id"]): row
        for row in _fetch_dicts(
            RECURRING_DETAIL_SQL.format(cases=sql),
            [[r["cell_id"] for r in found], [r["category_id"] for r in found], *params],
        )
    }
    for row in found:
        row.update(details.get((row["cell_id"], row["category_id"]), {}))
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
