"""Decision analysis (决策分析): every view's figures by the definitions of
analysis/queries.py, the scope (a district sees its district, the city all), who may ask,
the exports and the errors.

March 2025 in the small city, all cases reported at 10:00 Beijing time. Class M1's
category A, class M2's category B:
    own cell 440106001001001     A on 3, 10, 20 March; B on 5 March
    cell 440106001002001         A on 1 and 28 March
    cell 440104001001001 (越秀)  A on 2, 3, 4, 5 March (the district user does not see it)
Deadlines: own/A of 3 March due 6 March, closed on time on 5; own/A of 10 March due 13,
closed late on 15; own/B due 8 March, still open. Cases at risk on 10 April 09:00: one
signed, due at 20:00 (in the district), one due on 12 April, one already overdue, one in
越秀 due at 12:00.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from audit.models import Action, AuditEvent
from gridmgmt import clock
from incidents.models import Case, Channel, Source, State
from layers.models import Area, Category
from tests.cast import CELLS, centre

SH = ZoneInfo("Asia/Shanghai")
MARCH = "start=2025-03-01&end=2025-04-01"
CELL_B = "440106001002001"
NOW = dt.datetime(2025, 4, 10, 9, tzinfo=SH)


def t(month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, tzinfo=SH)


@pytest.fixture
def world(small_city: dict[str, Area], cast: dict[str, User]) -> dict[str, Any]:
    return build_world(small_city)


def build_world(small_city: dict[str, Area]) -> dict[str, Any]:
    """The cases of the module docstring (the browser test uses them too)."""
    call_command("loaddata", "catalogue", stdout=io.StringIO())
    events = Category.objects.filter(kind="event").exclude(minor_code="")
    a = events.order_by("major_code", "minor_code").first()
    assert a is not None
    b = events.exclude(major_code=a.major_code).order_by("major_code", "minor_code").first()
    assert b is not None
    majors = {c.major_code: c for c in Category.objects.filter(kind="event", minor_code="")}

    def case(code: str, category: Category, created: dt.datetime, **fields: Any) -> Case:
        cell = small_city[code]
        values: dict[str, Any] = {
            "source": Source.INSPECTOR,
            "channel": Channel.APP,
            "category": category,
            "description": "测试案件",
            "geom": centre(cell),
            "datum": "wgs84",
            "cell": cell,
            "community": small_city[code[:12]],
            "street": small_city[code[:9]],
            "district": small_city[code[:6]],
            "state": State.REPORTED,
            "created_at": created,
            "updated_at": created,
        }
        if "due_at" in fields:
            values.update(state=State.SIGNED, filed_at=created, dispatched_at=created)
        if "closed_at" in fields:
            values["state"] = State.CLOSED
        values.update(fields)
        return Case.objects.create(**values)

    own, other = CELLS["own"], CELLS["other_district"]
    case(own, a, t(3, 3), due_at=t(3, 6), closed_at=t(3, 5), closed_on_time=True)
    case(own, a, t(3, 10), due_at=t(3, 13), closed_at=t(3, 15), closed_on_time=False)
    case(own, a, t(3, 20))
    case(own, b, t(3, 5), due_at=t(3, 8), overdue=True)
    case(CELL_B, a, t(3, 1))
    case(CELL_B, a, t(3, 28))
    for day in (2, 3, 4, 5):
        case(other, a, t(3, day))
    risky = {
        "soon": case(own, b, t(4, 9), due_at=t(4, 10, 20), warned=True),
        "later": case(own, b, t(4, 9), due_at=t(4, 12, 20)),
        "late": case(own, b, t(4, 1), due_at=t(4, 9, 20), overdue=True),
        "yuexiu": case(other, a, t(4, 9), due_at=t(4, 10, 12)),
    }
    return {"a": a, "b": b, "m1": majors[a.major_code], "m2": majors[b.major_code], **risky}


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def get(user: User, view: str, query: str = MARCH) -> Any:
    response = client_of(user).get(f"/api/analysis/{view}/?{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_hotspots_count_cases_per_cell_in_the_users_area(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    city = get(cast["city"], "hotspots")
    counts = {row["code"]: row["cases"] for row in city["rows"]}
    assert counts == {CELLS["own"]: 4, CELL_B: 2, CELLS["other_district"]: 4}
    assert (city["cells"], city["cases"]) == (3, 10)
    for row in city["rows"]:  # the marker: a point inside the cell
        cell = Area.objects.get(code=row["code"], tier="cell")
        assert cell.geom.contains(Point(row["lon"], row["lat"], srid=4326)), row
    district = get(cast["district"], "hotspots")
    assert {row["code"]: row["cases"] for row in district["rows"]} == {
        CELLS["own"]: 4,
        CELL_B: 2,
    }
    only_b = get(cast["city"], "hotspots", f"{MARCH}&major={world['m2'].pk}")
    assert [(row["code"], row["cases"]) for row in only_b["rows"]] == [(CELLS["own"], 1)]
    one = get(cast["city"], "hotspots", f"{MARCH}&category={world['a'].pk}")
    assert one["cases"] == 9


def test_trends_per_day_by_class_with_closure_and_on_time_rates(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    data = get(cast["city"], "trends")
    rows = {row["bucket"]: row for row in data["rows"]}
    assert len(rows) == 31
    m1, m2 = f"class_{world['m1'].pk}", f"class_{world['m2'].pk}"
    assert {c["id"] for c in data["classes"]} == {world["m1"].pk, world["m2"].pk}
    assert rows["2025-03-03"]["received"] == 2 and rows["2025-03-03"][m1] == 2
    assert rows["2025-03-05"][m1] == 1 and rows["2025-03-05"][m2] == 1
    assert (rows["2025-03-06"]["due"], rows["2025-03-06"]["close_rate"]) == (1, 1.0)
    assert rows["2025-03-06"]["on_time_rate"] == 1.0
    assert (rows["2025-03-13"]["close_rate"], rows["2025-03-13"]["on_time_rate"]) == (1.0, 0.0)
    assert (rows["2025-03-08"]["due"], rows["2025-03-08"]["close_rate"]) == (1, 0.0)
    assert rows["2025-03-09"]["close_rate"] is None  # nothing due
    headers = [c["key"] for c in data["columns"]]
    assert headers[:2] == ["bucket", "received"] and m1 in headers and m2 in headers

    weeks = get(cast["district"], "trends", f"{MARCH}&step=week")
    buckets = [row["bucket"] for row in weeks["rows"]]
    # 1 March 2025 is a Saturday: its week starts on Monday 24 February.
    assert buckets == ["2025-02-24", "2025-03-03", "2025-03-10", "2025-03-17", "2025-03-24",
                       "2025-03-31"]  # fmt: skip
    assert [row["received"] for row in weeks["rows"]] == [1, 2, 1, 1, 1, 0]


def test_top_categories_per_area_one_tier_below_the_user(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    district = get(cast["district"], "categories")
    assert district["by"] == "street"
    assert [
        (r["area_code"], r["rank"], r["category_code"], r["cases"]) for r in district["rows"]
    ] == [
        ("440106001", 1, world["a"].code, 5),
        ("440106001", 2, world["b"].code, 1),
    ]
    assert district["rows"][0]["share"] == round(5 / 6, 4)
    city = get(cast["city"], "categories")
    assert city["by"] == "district"
    assert [(r["area_code"], r["cases"]) for r in city["rows"] if r["rank"] == 1] == [
        ("440106", 5),
        ("440104", 4),
    ]


def test_recurring_spots_same_cell_and_category_n_times_in_m_days(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    city = get(cast["city"], "recurring", f"{MARCH}&times=3&days=30")
    assert [(r["cell_code"], r["most_in_days"], r["cases"]) for r in city["rows"]] == [
        (CELLS["other_district"], 4, 4),
        (CELLS["own"], 3, 3),
    ]
    assert city["rows"][1]["open"] == 1 and city["rows"][1]["first"] == "2025-03-03 10:00"
    district = get(cast["district"], "recurring", f"{MARCH}&times=3&days=30")
    assert [r["cell_code"] for r in district["rows"]] == [CELLS["own"]]
    # 3 and 10 March are 7 days apart; 10 and 20 March exactly 10 (the span includes
    # both ends); the two of CELL_B are 27 days apart.
    tight = get(cast["district"], "recurring", f"{MARCH}&times=2&days=10")
    assert [(r["cell_code"], r["most_in_days"]) for r in tight["rows"]] == [(CELLS["own"], 2)]
    assert get(cast["district"], "recurring", f"{MARCH}&times=2&days=6")["rows"] == []


def test_cases_at_risk_are_open_not_overdue_and_due_within_the_hours(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    with clock.travel(NOW, tick=False):
        district = get(cast["district"], "at-risk", "hours=24")
        assert [r["id"] for r in district["rows"]] == [world["soon"].pk]
        assert district["rows"][0]["hours_left"] == 11.0
        assert district["rows"][0]["warned"] is True
        wider = get(cast["district"], "at-risk", "hours=72")
        assert [r["id"] for r in wider["rows"]] == [world["soon"].pk, world["later"].pk]
        city = get(cast["city"], "at-risk", "hours=24")
        assert [r["id"] for r in city["rows"]] == [world["yuexiu"].pk, world["soon"].pk]
        only_a = get(cast["city"], "at-risk", f"hours=24&category={world['a'].pk}")
        assert [r["id"] for r in only_a["rows"]] == [world["yuexiu"].pk]


def test_every_view_exports_csv_and_xlsx_and_each_export_is_audited(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    client = client_of(cast["district"])
    for view in ("hotspots", "trends", "categories", "recurring", "at-risk"):
        json_rows = client.get(f"/api/analysis/{view}/?{MARCH}").json()["rows"]
        response = client.get(f"/api/analysis/{view}/?{MARCH}&format=csv")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert f"analysis-{view}-20250301-20250331.csv" in response["Content-Disposition"]
        lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert len(lines) == 1 + len(json_rows)
        book = client.get(f"/api/analysis/{view}/?{MARCH}&format=xlsx")
        assert book.status_code == 200
        sheet = load_workbook(io.BytesIO(book.content)).worksheets[0]
        assert sheet.max_row == 1 + len(json_rows)
    response = client.get(f"/api/analysis/categories/?{MARCH}&format=csv")
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[0][:3] == ["区域编码", "区域", "区域案件数"]
    assert lines[1][5] == world["a"].name and lines[1][7] == "83.33%"
    exports = AuditEvent.objects.filter(action=Action.EXPORT, object_type="analysis")
    assert exports.count() == 11
    assert exports.filter(object_id="categories", detail__format="csv").exists()


def test_only_command_centres_and_leaders_may_analyse(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    for name in ("street", "department", "inspector", "hotline", "data_admin"):
        response = client_of(cast[name]).get(f"/api/analysis/hotspots/?{MARCH}")
        assert response.status_code == 403, name
        assert response.json()["code"] == "not_permitted"
    assert get(cast["leader"], "hotspots")["cases"] == 10
    assert Client().get(f"/api/analysis/hotspots/?{MARCH}").status_code in (401, 403)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start=2025-03-01", "end"),
        ("start=2025-03-01&end=2025-03-01", "end"),
        ("start=2024-01-01&end=2025-04-01", "end"),
        (f"{MARCH}&step=month", "step"),
        (f"{MARCH}&times=1", "times"),
        (f"{MARCH}&format=pdf", "format"),
    ],
)
def test_bad_parameters_are_named(
    world: dict[str, Any], cast: dict[str, User], query: str, field: str
) -> None:
    response = client_of(cast["city"]).get(f"/api/analysis/trends/?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_a_subcategory_is_no_major_class_and_an_unknown_view_is_an_error(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    client = client_of(cast["city"])
    response = client.get(f"/api/analysis/hotspots/?{MARCH}&major={world['a'].pk}")
    assert response.status_code == 400 and "major" in response.json()
    response = client.get(f"/api/analysis/hotspots/?{MARCH}&category={world['m1'].pk}")
    assert response.status_code == 400 and "category" in response.json()
    response = client.get(f"/api/analysis/heatmap/?{MARCH}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and response.json()["field"] == "view"


def test_the_page_is_offered_to_command_centres_and_leaders_only(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    for name in ("city", "district", "leader"):
        client = client_of(cast[name])
        landing = client.get("/map/", follow=True)
        assert b'href="/map/analysis/"' in landing.content, name
        response = client.get("/map/analysis/")
        assert response.status_code == 200
        assert b"analysis/analysis.js" in response.content
    for name in ("street", "inspector", "department"):
        client = client_of(cast[name])
        assert b'href="/map/analysis/"' not in client.get("/map/", follow=True).content
        assert client.get("/map/analysis/").status_code == 403


def test_each_view_costs_a_fixed_number_of_queries(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    """No query per row: the statements of a view do not grow with its answer."""
    client = client_of(cast["city"])
    client.get(f"/api/analysis/hotspots/?{MARCH}")  # the session and the post, loaded once
    # trends and categories read the daily counts after folding their log (migration 0006).
    expected = {"hotspots": 1, "trends": 3, "categories": 4, "recurring": 5, "at-risk": 1}
    for view, count in expected.items():
        with clock.travel(NOW, tick=False), CaptureQueriesContext(connection) as captured:
            response = client.get(f"/api/analysis/{view}/?{MARCH}&hours=720")
        assert response.status_code == 200 and len(response.json()["rows"]) >= 2
        own = [q["sql"] for q in captured.captured_queries if "django_session" not in q["sql"]]
        own = [sql for sql in own if "auth_user" not in sql and "layers_staff" not in sql]
        own = [sql for sql in own if not sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))]
        assert len(own) == count, (view, own)
