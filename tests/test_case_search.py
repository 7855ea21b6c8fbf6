"""Finding and exporting cases (issue 13, must-show 5): the case list's search filters
(q, since, until, source) and their 400s, the scope of a search, the CSV/XLSX export
(content, masking, audit, cap) and the saved searches of each user."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from openpyxl import load_workbook

from audit.models import Action, AuditEvent
from incidents.models import Case
from layers.models import Area
from map_ui.models import SavedFilter
from tests.loop import OTHER_STREET_CELL, client_for, report


@pytest.fixture(autouse=True)
def no_rate_limits(settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {}}


@pytest.fixture
def cases(loop: dict[str, User], small_city: dict[str, Area]) -> dict[str, int]:
    """Two cases of the first street (one 10 days old, from the hotline, with a caller),
    one of the second street."""
    own = report(loop["inspector"], small_city).json()["case"]["id"]
    old = report(loop["inspector"], small_city).json()["case"]["id"]
    other = report(loop["admin"], small_city, cell=OTHER_STREET_CELL).json()["case"]["id"]
    Case.objects.filter(pk=own).update(
        description="井盖 Broken 缺失", address_text="体育西路 12 号"
    )
    Case.objects.filter(pk=old).update(
        description="占道经营",
        address_text="天河北路 8 号",
        source="hotline",
        caller_name="王小明",
        caller_phone="13812345678",
        created_at=timezone.now() - dt.timedelta(days=10),
    )
    Case.objects.filter(pk=other).update(description="井盖松动")
    return {"own": own, "old": old, "other": other}


def ids(user: User, **params: Any) -> list[int]:
    answer = client_for(user).get("/api/cases/", params)
    assert answer.status_code == 200, answer.json()
    return [case["id"] for case in answer.json()["results"]]


def days_ago(days: int) -> str:
    return (timezone.localdate() - dt.timedelta(days=days)).isoformat()


# ---- filters ------------------------------------------------------------------------


def test_q_finds_a_case_by_its_id_with_or_without_hash(
    loop: dict[str, User], cases: dict[str, int]
) -> None:
    city = loop["city"]
    assert ids(city, q=str(cases["old"])) == [cases["old"]]
    assert ids(city, q=f"#{cases['other']}") == [cases["other"]]
    assert ids(city, q=" # 999999 ") == []


def test_q_finds_text_in_description_and_address_ignoring_case(
    loop: dict[str, User], cases: dict[str, int]
) -> None:
    city = loop["city"]
    assert ids(city, q="broken") == [cases["own"]]
    assert ids(city, q="井盖") == [cases["other"], cases["own"]]  # newest first
    assert ids(city, q="天河北路") == [cases["old"]]
    assert ids(city, q="100%") == []  # % is text, not a wildcard
    assert len(ids(city, q="")) == 3  # an empty search is no filter


def test_a_street_user_never_finds_another_streets_case(
    loop: dict[str, User], cases: dict[str, int]
) -> None:
    street = loop["street"]
    assert ids(street, q=str(cases["other"])) == []
    assert ids(street, q="井盖") == [cases["own"]]
    assert ids(street, q=str(cases["own"])) == [cases["own"]]


def test_since_and_until_are_inclusive_days_of_creation(
    loop: dict[str, User], cases: dict[str, int]
) -> None:
    city = loop["city"]
    assert ids(city, since=days_ago(10), until=days_ago(10)) == [cases["old"]]
    assert sorted(ids(city, since=days_ago(0))) == sorted([cases["own"], cases["other"]])
    assert ids(city, until=days_ago(1)) == [cases["old"]]
    assert ids(city, since=days_ago(9), until=days_ago(1)) == []


def test_source_filters_and_combines_with_the_others(
    loop: dict[str, User], cases: dict[str, int]
) -> None:
    city = loop["city"]
    assert ids(city, source="hotline") == [cases["old"]]
    assert sorted(ids(city, source="inspector")) == sorted([cases["own"], cases["other"]])
    assert ids(city, source="inspector", q="井盖", area="440106001") == [cases["own"]]
    assert ids(city, source="hotline", q="井盖") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-13-01"}, "since"),
        ({"until": "yesterday"}, "until"),
        ({"since": "2026-03-02", "until": "2026-03-01"}, "until"),
        ({"source": "fax"}, "source"),
        ({"q": "x" * 201}, "q"),
    ],
)
def test_bad_search_values_are_400s_naming_the_field(
    loop: dict[str, User], cases: dict[str, int], params: dict[str, str], field: str
) -> None:
    answer = client_for(loop["city"]).get("/api/cases/", params)
    assert answer.status_code == 400
    assert list(answer.json()) == [field]


# ---- export -------------------------------------------------------------------------


def exported_csv(user: User, **params: Any) -> list[list[str]]:
    answer = client_for(user).get("/api/cases/export.csv", params)
    assert answer.status_code == 200, answer.content[:300]
    assert answer["Content-Type"].startswith("text/csv")
    assert "attachment" in answer["Content-Disposition"]
    text = answer.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_export_has_the_listed_cases_with_callers_masked_and_is_audited(
    loop: dict[str, User], cases: dict[str, int]
) -> None:
    table = exported_csv(loop["city"], q="路")
    header, rows = table[0], table[1:]
    assert header[:3] == ["案件编号", "状态", "来源"]
    assert [int(row[0]) for row in rows] == ids(loop["city"], q="路")
    assert [int(row[0]) for row in rows] == [cases["own"], cases["old"]]
    old = dict(zip(header, rows[1], strict=True))
    assert old["来电号码"] == "138****5678"
    assert old["来电人"] != "王小明" and old["来电人"].startswith("王")
    assert old["问题描述"] == "占道经营" and old["地址描述"] == "天河北路 8 号"
    assert old["街道"] and old["来源"] == "12345热线"
    (event,) = AuditEvent.objects.filter(action=Action.EXPORT)
    assert event.username == "city" and event.object_type == "cases"
    assert event.detail["rows"] == 2 and event.detail["filters"] == {"q": "路"}


def test_who_may_see_callers_exports_them_unmasked(
    loop: dict[str, User], cases: dict[str, int]
) -> None:
    rows = exported_csv(loop["admin"], q=str(cases["old"]))
    assert rows[1][-2:] == ["王小明", "13812345678"]


def test_export_keeps_the_users_scope(loop: dict[str, User], cases: dict[str, int]) -> None:
    rows = exported_csv(loop["street"])[1:]
    assert sorted(int(row[0]) for row in rows) == sorted([cases["own"], cases["old"]])
    assert exported_csv(loop["street"], q=str(cases["other"]))[1:] == []


def test_export_header_follows_the_users_language(
    loop: dict[str, User], cases: dict[str, int]
) -> None:
    client = client_for(loop["city"])
    client.post("/i18n/setlang/", {"language": "en", "next": "/map/"})
    answer = client.get("/api/cases/export.csv")
    header = next(csv.reader(io.StringIO(answer.content.decode("utf-8")[1:])))
    assert header[1:3] == ["State", "Source"]


def test_xlsx_export_has_the_same_rows(loop: dict[str, User], cases: dict[str, int]) -> None:
    answer = client_for(loop["city"]).get("/api/cases/export.xlsx", {"source": "inspector"})
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "案件编号"
    assert sorted(row[0] for row in values[1:]) == sorted([cases["own"], cases["other"]])
    assert AuditEvent.objects.filter(action=Action.EXPORT, object_id="xlsx").count() == 1


def test_export_beyond_the_cap_is_a_400_and_not_recorded(
    loop: dict[str, User], cases: dict[str, int], settings: Any
) -> None:
    settings.CASE_EXPORT_MAX_ROWS = 2
    answer = client_for(loop["city"]).get("/api/cases/export.csv")
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "export_too_large" and "3" in body["detail"] and "2" in body["detail"]
    assert not AuditEvent.objects.filter(action=Action.EXPORT).exists()
    assert len(exported_csv(loop["city"], source="inspector")) == 3  # two rows: allowed


def test_export_refuses_unknown_formats_and_filters(
    loop: dict[str, User], cases: dict[str, int]
) -> None:
    client = client_for(loop["city"])
    answer = client.get("/api/cases/export.pdf")
    assert answer.status_code == 400 and answer.json()["field"] == "format"
    assert list(client.get("/api/cases/export.csv", {"source": "fax"}).json()) == ["source"]


# ---- saved filters ------------------------------------------------------------------


def test_saved_filters_are_each_users_own(loop: dict[str, User], cases: dict[str, int]) -> None:
    mine, theirs = client_for(loop["city"]), client_for(loop["street"])
    created = mine.post("/api/saved-filters/", {"name": "井盖", "query": "q=井盖&limit=20"})
    assert created.status_code == 201, created.json()
    saved = created.json()
    assert saved["query"] == "q=%E4%BA%95%E7%9B%96"  # the page it was on is not kept
    assert [f["name"] for f in mine.get("/api/saved-filters/").json()] == ["井盖"]
    assert theirs.get("/api/saved-filters/").json() == []
    assert theirs.delete(f"/api/saved-filters/{saved['id']}/").status_code == 404
    assert SavedFilter.objects.filter(pk=saved["id"]).exists()
    again = mine.post("/api/saved-filters/", {"name": "井盖", "query": "source=hotline"})
    assert again.status_code == 200 and again.json()["id"] == saved["id"]
    assert SavedFilter.objects.get().query == "source=hotline"
    assert mine.delete(f"/api/saved-filters/{saved['id']}/").status_code == 204
    assert not SavedFilter.objects.exists()


def test_a_saved_filter_must_be_a_valid_search(loop: dict[str, User]) -> None:
    client = client_for(loop["city"])
    bad = client.post("/api/saved-filters/", {"name": "x", "query": "source=fax"})
    assert bad.status_code == 400 and list(bad.json()) == ["query"]
    blank = client.post("/api/saved-filters/", {"name": "  ", "query": ""})
    assert blank.status_code == 400 and list(blank.json()) == ["name"]
    everything = client.post("/api/saved-filters/", {"name": "全部"})  # no query: no filter
    assert everything.status_code == 201 and everything.json()["query"] == ""


# ---- the page -----------------------------------------------------------------------


@pytest.mark.parametrize("username", ["city", "street", "department", "hotline", "inspector"])
def test_every_staff_post_opens_the_search_page(loop: dict[str, User], username: str) -> None:
    client = client_for(loop[username])
    page = client.get("/map/cases/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "案件查询" in text and 'name="q"' in text and "search.js" in text
    assert 'href="/map/cases/" aria-current="page"' in text  # in the post's menu


def test_a_user_without_a_post_may_not_open_the_search_page(loop: dict[str, User]) -> None:
    assert client_for(loop["nobody"]).get("/map/cases/").status_code == 403


def test_a_street_post_picks_only_its_own_street(loop: dict[str, User]) -> None:
    text = client_for(loop["street"]).get("/map/cases/").content.decode()
    assert 'value="440106001"' in text and 'value="440106002"' not in text


def test_the_page_knows_the_export_cap(loop: dict[str, User], settings: Any) -> None:
    settings.CASE_EXPORT_MAX_ROWS = 1234
    text = client_for(loop["street"]).get("/map/cases/").content.decode()
    assert '"export_max_rows": 1234' in text
