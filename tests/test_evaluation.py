"""Evaluation (评价): figures by the documented definitions, scope, exports, errors.

March 2025 in the small city. Street 440106001 (the street user's) holds cases c1-c10,
street 440106002 holds c11, district 440104 (越秀) holds c12-c13. Every figure expected
below is worked out by hand from the definitions in dispatch/evaluation.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from openpyxl import load_workbook

from dispatch.evaluation import AreaRow, By, InspectorRow, Period, UnitRow, evaluate
from dispatch.models import Assignment, TargetTier
from gridmgmt import clock
from incidents.models import Case, CaseEvent, Channel, Source, State
from layers.models import Area, Category, Role, Staff, Tier, Unit, UnitKind
from tests.cast import CELLS, centre

API = "/api/evaluation"
SH = ZoneInfo("Asia/Shanghai")
MARCH = Period(start=dt.date(2025, 3, 1), end=dt.date(2025, 4, 1))
AFTER_MARCH = dt.datetime(2025, 4, 10, 9, tzinfo=SH)
CELL_B = "440106001002001"  # street 440106001, not one of the inspector's cells


def t(month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, minute, tzinfo=SH)


@pytest.fixture
def world(small_city: dict[str, Area], cast: dict[str, User]) -> dict[str, Any]:
    """The cases, units, assignments and history of the module docstring."""
    call_command("loaddata", "catalogue", stdout=io.StringIO())
    category = Category.objects.exclude(minor_code="").order_by("pk").first()
    assert category is not None
    street_office = Staff.objects.get(user=cast["street"]).unit
    water = Staff.objects.get(user=cast["department"]).unit
    street2_office = _unit("天河区第2街道办事处", small_city["440106002"])
    yuexiu_office = _unit("越秀区第1街道办事处", small_city["440104001"])
    patrol = User.objects.create_user("patrol_chen", last_name="陈", first_name="小明")
    Staff.objects.create(user=patrol, role=Role.INSPECTOR, unit=street_office)
    inspector = cast["inspector"]

    def case(cell_code: str, created: dt.datetime, **fields: Any) -> Case:
        cell = small_city[cell_code]
        values: dict[str, Any] = {
            "source": Source.INSPECTOR,
            "channel": Channel.APP,
            "category": category,
            "description": "测试案件",
            "geom": centre(cell),
            "datum": "wgs84",
            # Codes are hierarchical: 6 digits district, +3 street, +3 community.
            "cell": cell,
            "community": small_city[cell_code[:12]],
            "street": small_city[cell_code[:9]],
            "district": small_city[cell_code[:6]],
            "state": State.REPORTED,
            "created_at": created,
            "updated_at": created,
        }
        if "due_at" in fields:  # dispatched: filed and dispatched when received
            values.update(state=State.SIGNED, filed_at=created, dispatched_at=created)
        if "closed_at" in fields:
            values["state"] = State.CLOSED
        values.update(fields)
        return Case.objects.create(**values)

    own = CELLS["own"]
    cases = {
        "c1": case(own, t(3, 3), urgent=True, due_at=t(3, 5), closed_at=t(3, 4),
                   closed_on_time=True, unit=street_office, reporter=inspector),
        "c2": case(own, t(3, 5), due_at=t(3, 10), closed_at=t(3, 12), closed_on_time=False,
                   reworks=1, unit=water, reporter=inspector),
        "c3": case(CELL_B, t(3, 10), urgent=True, due_at=t(3, 20), overdue=True, extensions=1,
                   unit=street_office, source=Source.HOTLINE, channel=Channel.PHONE),
        "c4": case(CELL_B, t(3, 11), due_at=t(3, 15), closed_at=t(3, 14), closed_on_time=True,
                   suspended=True, unit=street_office),
        "c5": case(own, t(3, 28), due_at=t(4, 2), unit=water, reporter=inspector),
        "c6": case(own, t(2, 25), due_at=t(3, 2), closed_at=t(3, 1), closed_on_time=True,
                   unit=street_office),
        "c7": case(CELL_B, t(3, 20), urgent=True, due_at=t(3, 30), closed_at=t(4, 2),
                   closed_on_time=False, unit=street_office, reporter=patrol),
        "c8": case(own, t(3, 8), state=State.CANCELLED, reporter=inspector),
        "c9": case(own, t(3, 9), state=State.MERGED, reporter=inspector),
        "c10": case(own, t(2, 10), due_at=t(2, 20), closed_at=t(2, 19), closed_on_time=True,
                    unit=street_office, reporter=inspector),
        "c11": case(CELLS["other_street"], t(3, 6), due_at=t(3, 9), closed_at=t(3, 8),
                    closed_on_time=True, unit=street2_office),
        "c12": case(CELLS["other_district"], t(3, 6), due_at=t(3, 9), closed_at=t(3, 10),
                    closed_on_time=False, unit=yuexiu_office),
        "c13": case(CELLS["other_district"], t(3, 7), due_at=t(3, 12), overdue=True,
                    unit=water),
    }  # fmt: skip

    # c3 went to the water authority first, which returned it as wrongly routed.
    for key, unit, at in [
        ("c2", water, t(3, 5)),
        ("c3", water, t(3, 10)),
        ("c3", street_office, t(3, 10, 14)),
        ("c13", water, t(3, 7)),
    ]:
        Assignment.objects.create(
            case=cases[key], unit=unit, tier=TargetTier.STREET, reason="测试", at=at
        )
        _event(cases[key], "dispatch", at, unit=unit)
    _event(cases["c3"], "return", t(3, 10, 12), unit=water)

    # Verifications by the inspector: c1 within the hour of the feedback; c2 failed three
    # hours after the first feedback, then passed 45 minutes after the second.
    _event(cases["c1"], "handle", t(3, 4, 8))
    _event(cases["c1"], "verify_pass", t(3, 4, 8, 30), actor=inspector)
    _event(cases["c2"], "handle", t(3, 8, 10))
    _event(cases["c2"], "verify_fail", t(3, 8, 13), actor=inspector)
    _event(cases["c2"], "handle", t(3, 11, 9))
    _event(cases["c2"], "verify_pass", t(3, 11, 9, 45), actor=inspector)
    return {
        "cases": cases,
        "units": {"street": street_office, "water": water, "street2": street2_office},
        "patrol": patrol,
    }


def _unit(name: str, area: Area) -> Unit:
    # create_demo_users may already have made every street's office.
    defaults = {"tier": Tier.STREET, "kind": UnitKind.TERRITORIAL, "area": area}
    return Unit.objects.get_or_create(name=name, defaults=defaults)[0]


def _event(
    case: Case, action: str, at: dt.datetime, *, unit: Unit | None = None, actor: User | None = None
) -> None:
    CaseEvent.objects.create(
        case=case, at=at, action=action, to_state=case.state, unit=unit or case.unit, actor=actor
    )


def fresh(user: User) -> User:
    """The user without the post cached on it, to count every query."""
    return User.objects.get(pk=user.pk)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# The street 440106001 in March, by hand (as of April 10, after the period):
# received c1 c2 c3 c4 c5 c7 c8 c9; filed c1 c2 c3 c4 c5 c7 (c6 was filed in February);
# due c1 c2 c3 c4 c6 c7 (c5 is due in April); suspended c4; closed c1 c2 c6 (c7 closed
# on April 2, after the period); on time c1 c6; overdue c2 (closed late), c3 (open), c7
# (closed after the period, late). Urgent: c1 c3 c7.
STREET_1 = AreaRow(
    code="440106001", name="天河区第1街道",
    received=8, filed=6, due=6, suspended=1, closed=3, closed_on_time=2, overdue=3,
    rework=1, extensions=1,
    urgent_due=3, urgent_suspended=0, urgent_closed=1, urgent_closed_on_time=1,
    urgent_overdue=2,
)  # fmt: skip


# --- figures -------------------------------------------------------------------------


def test_it_counts_a_streets_cases_by_the_definitions(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    result = evaluate(cast["street"], by=By.STREET, period=MARCH, now=AFTER_MARCH)
    assert result.rows == [STREET_1]
    row = result.rows[0]
    assert isinstance(row, AreaRow)
    assert (row.close_rate, row.on_time_rate) == (0.6, 0.4)  # 3/5 and 2/5: c4 is out
    assert (row.urgent_close_rate, row.urgent_on_time_rate) == (0.3333, 0.3333)
    # due - suspended = on time + overdue + not yet due (none once the period is over).
    assert row.due - row.suspended == row.closed_on_time + row.overdue
    assert result.total == AreaRow(code="", name="合计", **_figures(STREET_1))
    assert result.as_of == MARCH.end_at


def test_it_counts_overdue_only_once_the_deadline_has_passed(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    mid_march = t(3, 15)
    result = evaluate(cast["street"], by=By.STREET, period=MARCH, now=mid_march)
    row = result.rows[0]
    assert isinstance(row, AreaRow)
    # c3 (due March 20) and c7 (due March 30) are not late yet; c2 is.
    assert (row.overdue, row.urgent_overdue) == (1, 0)
    assert result.as_of == mid_march


def test_it_groups_by_cell_community_and_district(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    cells = evaluate(cast["district"], by=By.CELL, period=MARCH, now=AFTER_MARCH).rows
    assert [(r.code, r.received, r.due) for r in cells if isinstance(r, AreaRow)] == [
        (CELLS["own"], 5, 3),  # c1 c2 c5 c8 c9 received; c1 c2 c6 due
        (CELL_B, 3, 3),  # c3 c4 c7
        (CELLS["other_street"], 1, 1),
    ]
    communities = evaluate(cast["district"], by=By.COMMUNITY, period=MARCH, now=AFTER_MARCH)
    assert [r.name for r in communities.rows] == [
        "天河区第1街道第1社区",
        "天河区第1街道第2社区",
        "天河区第2街道第1社区",
        "天河区第2街道第2社区",  # no case: listed all the same, every figure 0, no rate
    ]
    quiet = communities.rows[-1]
    assert isinstance(quiet, AreaRow) and quiet.code.startswith("440106002")
    assert _figures(quiet) == _figures(AreaRow(code="", name="")) and quiet.on_time_rate is None
    districts = evaluate(cast["city"], by=By.DISTRICT, period=MARCH, now=AFTER_MARCH).rows
    yuexiu, tianhe = districts
    assert isinstance(yuexiu, AreaRow) and isinstance(tianhe, AreaRow)
    assert (yuexiu.code, yuexiu.name) == ("440104", "越秀区")
    # c12 closed a day late, c13 still open: both overdue, one closed, none on time.
    assert (yuexiu.due, yuexiu.closed, yuexiu.closed_on_time, yuexiu.overdue) == (2, 1, 0, 2)
    assert (yuexiu.close_rate, yuexiu.on_time_rate) == (0.5, 0.0)
    # Tianhe: street 1 plus c11 (due, closed on time).
    assert (tianhe.received, tianhe.due, tianhe.closed, tianhe.closed_on_time) == (9, 7, 4, 3)


def test_it_counts_each_unit_on_its_current_cases(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    rows = evaluate(cast["city"], by=By.UNIT, period=MARCH, now=AFTER_MARCH).rows
    by_name = {row.name: row for row in rows if isinstance(row, UnitRow)}
    assert set(by_name) == {"广州市水务局", "天河区第1街道办事处", "天河区第2街道办事处",
                            "越秀区第1街道办事处"}  # fmt: skip
    water = by_name["广州市水务局"]
    # Now in the unit: c2 (closed late), c5 (due in April), c13 (open, overdue). c3 was
    # assigned to it and returned: it counts in `assigned` but against the street office.
    assert (water.received, water.due, water.closed, water.closed_on_time) == (3, 2, 1, 0)
    assert (water.overdue, water.rework, water.assigned) == (2, 1, 3)
    assert (water.close_rate, water.on_time_rate) == (0.5, 0.0)
    office = by_name["天河区第1街道办事处"]
    assert (office.due, office.suspended, office.closed, office.assigned) == (5, 1, 2, 1)


def test_it_counts_inspectors_reports_and_verifications(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    rows = evaluate(cast["city"], by=By.INSPECTOR, period=MARCH, now=AFTER_MARCH).rows
    assert rows == [
        InspectorRow(
            user_id=cast["inspector"].pk, username="inspector", name="",
            reported=5, valid=3, cancelled=1, merged=1,  # c1 c2 c5 c8 c9; c10 is February's
            verifications=3, verified_on_time=2,  # the failed check came 3 hours late
        ),
        InspectorRow(
            user_id=world["patrol"].pk, username="patrol_chen", name="陈小明",
            reported=1, valid=1, cancelled=0, merged=0, verifications=0, verified_on_time=0,
        ),
    ]  # fmt: skip
    first = rows[0]
    assert isinstance(first, InspectorRow)
    assert (first.valid_rate, first.verification_rate) == (0.6, 0.6667)
    assert isinstance(rows[1], InspectorRow) and rows[1].verification_rate is None


# --- who sees what -------------------------------------------------------------------


def test_it_counts_only_the_cases_the_user_may_see(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    def codes(username: str, by: By = By.STREET) -> list[str]:
        rows = evaluate(cast[username], by=by, period=MARCH, now=AFTER_MARCH).rows
        return [row.code for row in rows if isinstance(row, AreaRow)]

    # Territorial posts: every street of their territory, with cases or not (440104002
    # has none); the figures count only the cases they may see.
    assert codes("street") == ["440106001"]
    assert codes("district") == ["440106001", "440106002"]
    assert codes("district", By.DISTRICT) == ["440106"]
    city = ["440104001", "440104002", "440106001", "440106002"]
    assert codes("city") == codes("leader") == city
    # A department: the streets where the cases now in its unit lie, and no other.
    assert codes("department") == ["440104001", "440106001"]
    units = evaluate(cast["department"], by=By.UNIT, period=MARCH, now=AFTER_MARCH).rows
    assert [(row.name, getattr(row, "assigned", None)) for row in units] == [("广州市水务局", 3)]
    for username in ("data_admin", "nobody"):
        result = evaluate(cast[username], by=By.STREET, period=MARCH, now=AFTER_MARCH)
        assert result.rows == []
        assert result.total == AreaRow(code="", name="合计")
        assert isinstance(result.total, AreaRow) and result.total.close_rate is None


def test_it_gives_an_inspector_only_their_own_row(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    rows = evaluate(cast["inspector"], by=By.INSPECTOR, period=MARCH, now=AFTER_MARCH).rows
    assert [row.username for row in rows if isinstance(row, InspectorRow)] == ["inspector"]
    rows = evaluate(world["patrol"], by=By.INSPECTOR, period=MARCH, now=AFTER_MARCH).rows
    assert [(r.username, r.reported) for r in rows if isinstance(r, InspectorRow)] == [
        ("patrol_chen", 1)
    ]


@pytest.mark.parametrize(("by", "queries"), [(By.STREET, 6), (By.UNIT, 6), (By.INSPECTOR, 3)])
def test_it_aggregates_in_one_query_per_table(
    world: dict[str, Any], cast: dict[str, User], by: By, queries: int
) -> None:
    user = fresh(cast["city"])
    with CaptureQueriesContext(connection) as captured:
        evaluate(user, by=by, period=MARCH, now=AFTER_MARCH)
    # The user's post (cached on the user afterwards), then one aggregate per table:
    # cases (March, a whole month: the monthly rollup) and the names of their areas or
    # units, the 12345 replies of the history (areas, units), plus the territory's areas
    # (street), assignments (unit) or history (inspector); before the monthly rollup is
    # read, its log is folded into it (migration 0013). Never one per row.
    assert len(captured) == queries, [q["sql"] for q in captured]


# --- the API -------------------------------------------------------------------------

MARCH_QUERY = {"start": "2025-03-01", "end": "2025-04-01"}


def content_of(response: Any) -> bytes:
    """The bytes of an answer, streamed (the exports) or not."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return bytes(response.content)


def test_it_serves_the_table_as_json(world: dict[str, Any], cast: dict[str, User]) -> None:
    response = client_for(cast["street"]).get(f"{API}/street/", MARCH_QUERY)
    assert response.status_code == 200
    body = response.json()
    assert (body["by"], body["start"], body["end"]) == ("street", "2025-03-01", "2025-04-01")
    [row] = body["rows"]
    assert row == {**_figures(STREET_1), "code": "440106001", "name": "天河区第1街道",
                   "close_rate": 0.6, "on_time_rate": 0.4, "urgent_close_rate": 0.3333,
                   "urgent_on_time_rate": 0.3333, "filing_rate": 1.0, "callback_rate": None,
                   "satisfaction_rate": None, "reopen_rate": None}  # fmt: skip
    assert body["total"]["name"] == "合计"
    assert body["total"]["due"] == 6
    headers = {column["key"]: column["header"] for column in body["columns"]}
    assert headers["close_rate"] == "结案率"
    assert headers["on_time_rate"] == "按期结案率"
    assert list(headers) == list(row)


def test_it_exports_csv_with_a_bom_and_chinese_headers(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    client = client_for(cast["district"])
    response = client.get(f"{API}/street/", {**MARCH_QUERY, "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response["Content-Disposition"]
    assert 'filename="evaluation-street-20250301-20250331.csv"' in disposition
    assert "filename*=UTF-8''" in disposition  # 案件评价_街道_20250301-20250331.csv
    content = content_of(response)
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    header, street1, street2, total = rows
    assert header[:9] == ["编码", "名称", "受理数", "立案数", "应结案数", "缓办数", "结案数",
                          "按期结案数", "超期数"]  # fmt: skip
    line = dict(zip(header, street1, strict=True))
    assert (line["编码"], line["名称"]) == ("440106001", "天河区第1街道")
    assert (line["应结案数"], line["缓办数"], line["结案数"]) == ("6", "1", "3")
    assert (line["结案率"], line["按期结案率"]) == ("60.00%", "40.00%")
    assert dict(zip(header, street2, strict=True))["结案率"] == "100.00%"
    assert total[1] == "合计"
    assert dict(zip(header, total, strict=True))["应结案数"] == "7"


def test_it_exports_xlsx_with_percentages_and_the_formulas(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    response = client_for(cast["city"]).get(f"{API}/unit/", {**MARCH_QUERY, "format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert 'filename="evaluation-unit-20250301-20250331.xlsx"' in response["Content-Disposition"]
    book = load_workbook(io.BytesIO(content_of(response)))
    assert book.sheetnames == ["责任单位评价", "口径说明"]
    sheet = book["责任单位评价"]
    header = [cell.value for cell in sheet[1]]
    assert header[:3] == ["单位编号", "责任单位", "派遣次数"]
    rows = {row[1].value: row for row in sheet.iter_rows(min_row=2)}
    water = {header[i]: cell for i, cell in enumerate(rows["广州市水务局"])}
    assert (water["派遣次数"].value, water["应结案数"].value, water["结案数"].value) == (3, 2, 1)
    assert water["结案率"].value == 0.5
    assert water["结案率"].number_format == "0.00%"
    assert water["按期结案率"].value == 0.0
    assert water["紧急结案率"].value is None  # no urgent case due: no rate, not 0
    assert list(rows)[-1] == "合计"
    notes = {row[0]: row[1] for row in book["口径说明"].iter_rows(values_only=True)}
    assert notes["本表周期"] == "2025-03-01 至 2025-03-31"
    assert "结案数 ÷ (应结案数 − 缓办数)" in notes["结案率"]


def test_it_keeps_names_as_text_in_exports(world: dict[str, Any], cast: dict[str, User]) -> None:
    Unit.objects.filter(pk=world["units"]["street2"].pk).update(name="=HYPERLINK(1)")
    client = client_for(cast["city"])
    response = client.get(f"{API}/unit/", {**MARCH_QUERY, "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(content_of(response))).worksheets[0]
    names = {row[1].value: row[1].data_type for row in sheet.iter_rows(min_row=2)}
    assert names["=HYPERLINK(1)"] == "s"
    response = client.get(f"{API}/unit/", {**MARCH_QUERY, "format": "csv"})
    assert "'=HYPERLINK(1)" in content_of(response).decode("utf-8-sig")


def test_it_defaults_to_the_current_month(world: dict[str, Any], cast: dict[str, User]) -> None:
    client = client_for(cast["street"])
    with clock.travel(t(3, 15), tick=False):
        body = client.get(f"{API}/street/").json()
    assert (body["start"], body["end"]) == ("2025-03-01", "2025-04-01")
    assert dt.datetime.fromisoformat(body["as_of"]) == t(3, 15)
    assert body["rows"][0]["overdue"] == 1


def test_it_accepts_a_whole_leap_year(world: dict[str, Any], cast: dict[str, User]) -> None:
    response = client_for(cast["city"]).get(
        f"{API}/district/", {"start": "2024-01-01", "end": "2025-01-01"}
    )
    assert response.status_code == 200
    rows = response.json()["rows"]  # the cases are of 2025: both districts, nothing due
    assert [(row["code"], row["received"], row["due"]) for row in rows] == [
        ("440104", 0, 0),
        ("440106", 0, 0),
    ]


@pytest.mark.parametrize(
    ("by", "params", "named"),
    [
        ("planet", MARCH_QUERY, "by"),
        ("street", {"start": "2025-13-01", "end": "2025-04-01"}, "start"),
        ("street", {"start": "2025-03-01"}, "end"),
        ("street", {"end": "2025-04-01"}, "start"),
        ("street", {"start": "2025-04-01", "end": "2025-04-01"}, "end"),
        ("street", {"start": "2024-01-01", "end": "2025-01-02"}, "end"),  # 367 days
        ("street", {**MARCH_QUERY, "format": "pdf"}, "format"),
    ],
)
def test_it_names_the_bad_parameter(
    cast: dict[str, User], by: str, params: dict[str, str], named: str
) -> None:
    response = client_for(cast["city"]).get(f"{API}/{by}/", {**params})
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [named]
    assert body[named][0]


def test_it_refuses_anonymous_requests(db: None) -> None:
    assert Client().get(f"{API}/street/").status_code in (401, 403)


def test_it_documents_the_endpoint_without_warnings(db: None) -> None:
    GENERATOR_STATS.reset()
    patterns = [path("api/evaluation/", include("dispatch.api.evaluation"))]
    schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    assert not GENERATOR_STATS, "drf-spectacular warned about the evaluation endpoint"
    operation = schema["paths"]["/api/evaluation/{by}/"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert sorted(parameters["by"]["schema"]["enum"]) == sorted(By.values)
    assert parameters["format"]["schema"]["enum"] == ["json", "csv", "xlsx"]
    assert {"start", "end"} <= set(parameters)
    content = operation["responses"]["200"]["content"]
    assert {"application/json", "text/csv"} <= set(content)
    assert "400" in operation["responses"]


def _figures(row: AreaRow) -> dict[str, int]:
    return {
        name: getattr(row, name)
        for name in row.__dataclass_fields__
        if name not in ("code", "name")
    }


@pytest.mark.parametrize(
    ("by", "output", "queries"),
    # An export writes its audit entry: one insert more (audit/, docs/architecture.md).
    # The rollups' fold before the monthly rollup is read: one more (migration 0013).
    [("street", "json", 7), ("street", "xlsx", 8), ("unit", "csv", 8), ("inspector", "json", 4)],
)
def test_it_answers_a_request_in_a_fixed_number_of_queries(
    world: dict[str, Any], cast: dict[str, User], by: str, output: str, queries: int
) -> None:
    client = client_for(cast["city"])
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"{API}/{by}/", {**MARCH_QUERY, "format": output})
    assert response.status_code == 200
    # Session, user with their post (layers.auth), then the aggregates of evaluate().
    assert len(captured) == queries, [q["sql"] for q in captured]
    audit = [q["sql"] for q in captured if "audit_auditevent" in q["sql"]]
    assert len(audit) == (output != "json")


# --- 12345 replies and call-backs ------------------------------------------------------


@pytest.fixture
def hotline_world(world: dict[str, Any]) -> dict[str, Any]:
    """Replies and call-backs on the world's cases (round: the case's 重办 count then):
    c1  reply 3-4, call-back 3-5 reached 满意.
    c3  reply 3-12, call-back 3-13 reached 不满意 (重办); round 1: reply 3-20, one try
        not reached 3-21 (the call-back not finished).
    c2  reply 3-9, call-back 3-10 not reached after the tries (finished, not reached).
    c11 reply 3-30, call-back 4-2 基本满意: after the period, not counted in March.
    c12 reply 2-28: before the period."""
    cases = world["cases"]
    for key, action, at, data in [
        ("c1", "reply", t(3, 4), {"round": 0}),
        ("c1", "callback", t(3, 5), {"round": 0, "done": True, "reached": True,
                                     "satisfaction": "satisfied"}),
        ("c3", "reply", t(3, 12), {"round": 0}),
        ("c3", "callback", t(3, 13), {"round": 0, "done": True, "reached": True,
                                      "satisfaction": "dissatisfied"}),
        ("c3", "reopen", t(3, 13), {"round": 1}),
        ("c3", "reply", t(3, 20), {"round": 1}),
        ("c3", "callback", t(3, 21), {"round": 1, "done": False, "reached": False,
                                      "satisfaction": ""}),
        ("c2", "reply", t(3, 9), {"round": 0}),
        ("c2", "callback", t(3, 10), {"round": 0, "done": True, "reached": False,
                                      "satisfaction": ""}),
        ("c11", "reply", t(3, 30), {"round": 0}),
        ("c11", "callback", t(4, 2), {"round": 0, "done": True, "reached": True,
                                      "satisfaction": "basic"}),
        ("c12", "reply", t(2, 28), {"round": 0}),
    ]:  # fmt: skip
        case = cases[key]
        CaseEvent.objects.create(
            case=case, at=at, action=action, to_state=case.state, unit=case.unit, data=data
        )
    return world


def test_it_counts_replies_call_backs_satisfaction_and_reopens_by_hand(
    hotline_world: dict[str, Any], cast: dict[str, User]
) -> None:
    city = fresh(cast["city"])
    streets = evaluate(city, by=By.STREET, period=MARCH, now=AFTER_MARCH)
    row = {r.code: r for r in streets.rows if isinstance(r, AreaRow)}
    # Street 1: replies c1, c3 (twice), c2 = 4; finished call-backs c1, c3 round 0, c2 = 3;
    # reached c1, c3 = 2; satisfied c1 = 1; reopened c3 = 1.
    one = row["440106001"]
    assert (one.replies, one.called_back, one.reached, one.satisfied, one.reopened) == (
        4, 3, 2, 1, 1
    )  # fmt: skip
    assert (one.callback_rate, one.satisfaction_rate, one.reopen_rate) == (0.75, 0.5, 0.25)
    # Street 2: c11's call-back came after the period: not called back in March.
    two = row["440106002"]
    assert (two.replies, two.called_back, two.callback_rate, two.satisfaction_rate) == (
        1, 0, 0.0, None
    )  # fmt: skip
    # 越秀: c12's reply was in February.
    assert row["440104001"].replies == 0 and row["440104001"].callback_rate is None
    assert streets.total.replies == 5 and streets.total.called_back == 3  # type: ignore[union-attr]

    units = evaluate(city, by=By.UNIT, period=MARCH, now=AFTER_MARCH)
    by_unit = {r.unit_id: r for r in units.rows if isinstance(r, UnitRow)}
    street_office = by_unit[hotline_world["units"]["street"].pk]
    water = by_unit[hotline_world["units"]["water"].pk]
    assert (street_office.replies, street_office.called_back, street_office.reached,
            street_office.satisfied, street_office.reopened) == (3, 2, 2, 1, 1)  # fmt: skip
    assert street_office.reopen_rate == round(1 / 3, 4)
    assert (water.replies, water.called_back, water.reached, water.satisfaction_rate) == (
        1, 1, 0, None
    )  # fmt: skip
    # A month later (April), c11's call-back is in and its reply is not.
    april = evaluate(city, by=By.STREET, period=Period.month_of(dt.date(2025, 4, 1)),
                     now=AFTER_MARCH)  # fmt: skip
    assert {r.code: r.replies for r in april.rows if isinstance(r, AreaRow)}["440106002"] == 0


def test_it_exports_the_12345_figures_with_their_formulas(
    hotline_world: dict[str, Any], cast: dict[str, User]
) -> None:
    response = client_for(cast["street"]).get(f"{API}/street/", MARCH_QUERY)
    body = response.json()
    headers = {column["key"]: column["header"] for column in body["columns"]}
    assert headers["callback_rate"] == "回访率" and headers["satisfaction_rate"] == "满意率"
    assert headers["reopen_rate"] == "重办率"
    row = next(r for r in body["rows"] if r["code"] == "440106001")
    assert (row["replies"], row["callback_rate"], row["reopen_rate"]) == (4, 0.75, 0.25)
    sheet = client_for(cast["street"]).get(f"{API}/street/", {**MARCH_QUERY, "format": "csv"})
    text = content_of(sheet).decode("utf-8-sig")
    assert "回访率" in text.splitlines()[0] and "重办率" in text.splitlines()[0]
    xlsx = client_for(cast["street"]).get(f"{API}/street/", {**MARCH_QUERY, "format": "xlsx"})
    workbook = load_workbook(io.BytesIO(content_of(xlsx)))
    notes = " ".join(str(c.value) for r in workbook.worksheets[1].iter_rows() for c in r)
    assert "回访数 ÷ 答复数" in notes and "回访接通数" in notes


def test_it_counts_the_cases_filed_after_their_filing_deadline(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    # c1 filed 3-3 10:00 with its 立案时限 at 9:00 (late); c2 filed 3-5 10:00 by 11:00 (on
    # time); the other filed cases have no deadline (on time). Street 1: filed 6, late 1.
    cases = world["cases"]
    Case.objects.filter(pk=cases["c1"].pk).update(file_due_at=t(3, 3, 9))
    Case.objects.filter(pk=cases["c2"].pk).update(file_due_at=t(3, 5, 11))
    rows = evaluate(fresh(cast["city"]), by=By.STREET, period=MARCH, now=AFTER_MARCH).rows
    one = next(r for r in rows if isinstance(r, AreaRow) and r.code == "440106001")
    assert (one.filed, one.filed_late, one.filing_rate) == (6, 1, round(5 / 6, 4))


def test_it_pages_the_per_cell_table_of_cells_with_cases(
    world: dict[str, Any], cast: dict[str, User]
) -> None:
    """The district's cells with cases in March (three of the small city's cells), one
    page of two and one of one, linked; the total is over all pages; exports hold all."""
    client = client_for(cast["district"])
    first = client.get(f"{API}/cell/", {**MARCH_QUERY, "page_size": "2"}).json()
    assert (first["count"], first["page"], first["page_size"]) == (3, 1, 2)
    assert [row["code"] for row in first["rows"]] == [CELLS["own"], CELL_B]
    assert first["previous"] is None
    assert first["next"].startswith("http://testserver/api/evaluation/cell/?")
    assert "page=2" in first["next"] and "page_size=2" in first["next"]
    assert "start=2025-03-01" in first["next"]
    second = client.get(first["next"]).json()
    assert [row["code"] for row in second["rows"]] == [CELLS["other_street"]]
    assert second["next"] is None and "page=1" in second["previous"]
    # Only cells with cases, and the total over every page: 5 + 3 + 1 received.
    assert all(row["received"] or row["due"] for row in first["rows"] + second["rows"])
    assert first["total"]["received"] == second["total"]["received"] == 9
    beyond = client.get(f"{API}/cell/", {**MARCH_QUERY, "page": "9", "page_size": "2"}).json()
    assert beyond["rows"] == [] and beyond["count"] == 3 and beyond["next"] is None
    whole = client.get(f"{API}/cell/", {**MARCH_QUERY, "format": "csv"})
    assert whole.streaming
    assert len(content_of(whole).decode("utf-8-sig").strip().splitlines()) == 1 + 3 + 1
    bad = client.get(f"{API}/cell/", {**MARCH_QUERY, "page_size": "0"})
    assert bad.status_code == 400 and "page_size" in str(bad.json())
