"""Open311 GeoReport v2, the reading side: discovery, services, service definitions,
requests (lists, one, filters, paging, extensions), scopes of keys, and the errors — every
document in both formats, validated against the schemas of tests/open311/.

Filing (POST) is tested over real HTTP in test_open311_post.py; the georeport client in
test_open311_georeport.py; keys in the admin in test_open311_admin.py."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from gridmgmt import clock
from incidents.models import Case, State
from layers.models import Area, Category, CategoryKind
from open311.clients import key_revoke
from open311.models import ApiKey, Datatype, ServiceAttribute
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, YUEXIU_CELL, act, client_for, event_category, report
from tests.open311 import FORMATS, make_client, read

V2 = "/open311/v2"
CALLER_NAME, CALLER_PHONE = "欧阳娜娜", "13912345678"


@pytest.fixture(autouse=True)
def everything_public(settings: Any) -> None:
    """The reading side's documents, read as a city that publishes its 12345 tickets at
    full precision; what the public sees by default: tests/test_open311_privacy.py."""
    settings.OPEN311_PUBLIC_SOURCES = ["inspector", "open311", "hotline"]
    settings.OPEN311_PUBLIC_DECIMALS = 7


@pytest.fixture(autouse=True)
def no_rate_limits(settings: Any) -> None:
    """Without rates: these tests send more requests from one address than a minute's
    allowance (a scope without a rate is not limited, accounts.throttling)."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {}}


def get(path: str, fmt: str, schema: str, *, expect: int = 200, **params: Any) -> Any:
    response = Client().get(f"{V2}/{path}.{fmt}", params)
    assert response.status_code == expect, response.content[:600]
    return read(response.content, response["Content-Type"], fmt, schema)


def ticket(
    city: dict[str, Area],
    hotline: User,
    *,
    cell: str = INSPECTOR_CELL,
    category: str = "0101",
    **extra: Any,
) -> int:
    """A 12345 ticket with a caller's name and phone, through the hotline API."""
    point = centre(city[cell])
    body = {
        "channel": "phone",
        "category": event_category(category).pk,
        "description": "路口有一堆垃圾",
        "address_text": "天河路口",
        "caller_name": CALLER_NAME,
        "caller_phone": CALLER_PHONE,
        "lon": point.x,
        "lat": point.y,
        **extra,
    }
    response = client_for(hotline).post("/api/cases/tickets/", body, format="json")
    assert response.status_code == 201, response.json()
    return int(response.json()["case"]["id"])


@pytest.fixture
def attributes(loop: dict[str, User]) -> list[ServiceAttribute]:
    """Extra fields of 暴露垃圾 (event-0101), as an administrator would add them."""
    category = event_category("0101")
    rows = [
        ServiceAttribute(
            category=category,
            code="kind",
            description="垃圾种类",
            order=2,
            datatype=Datatype.SINGLEVALUELIST,
            required=True,
            choices="household=生活垃圾\nbulky=大件垃圾\nbuilding=建筑垃圾",
        ),
        ServiceAttribute(
            category=category,
            code="smell",
            description="有无异味",
            order=1,
            datatype=Datatype.MULTIVALUELIST,
            choices="rot=腐臭\nchemical=化学气味",
        ),
        ServiceAttribute(
            category=category,
            code="volume",
            description="大约几立方米",
            order=3,
            datatype=Datatype.NUMBER,
            datatype_description="立方米，可带小数",
        ),
    ]
    for row in rows:
        row.full_clean()
        row.save()
    return rows


# ---- discovery and services -----------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery_names_the_endpoint_and_both_formats(db: None, fmt: str) -> None:
    found = get("discovery", fmt, "discovery")
    (endpoint,) = found["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert found["changeset"] == endpoint["changeset"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_services_are_the_subcategories_of_the_catalogue(
    loop: dict[str, User], attributes: list[ServiceAttribute], fmt: str
) -> None:
    found = {service["service_code"]: service for service in get("services", fmt, "services")}
    subcategories = Category.objects.filter(active=True).exclude(minor_code="")
    assert set(found) == {f"{c.kind}-{c.code}" for c in subcategories}
    assert found["event-0101"] == {
        "service_code": "event-0101",
        "service_name": "暴露垃圾",
        "description": event_category("0101").filing_condition,
        "metadata": True,  # it has attributes
        "type": "realtime",
        "keywords": "Exposed garbage, 市容环境, 事件, 0101",
        "group": "事件·市容环境",
    }
    assert found["event-0102"]["metadata"] is False
    # Components and events share codes: the kind tells them apart.
    assert found["component-0101"]["service_name"] == "上水井盖"
    assert found["component-0101"]["metadata"] is True  # its component_code
    assert found["component-0101"]["group"] == "部件·公用设施"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_definition_lists_the_attributes_in_their_order(
    loop: dict[str, User], attributes: list[ServiceAttribute], fmt: str
) -> None:
    found = get("services/event-0101", fmt, "service_definition")
    assert found["service_code"] == "event-0101"
    assert [a["code"] for a in found["attributes"]] == ["smell", "kind", "volume"]
    smell, kind, volume = found["attributes"]
    assert kind == {
        "variable": True,
        "code": "kind",
        "datatype": "singlevaluelist",
        "required": True,
        "datatype_description": None,
        "order": 2,
        "description": "垃圾种类",
        "values": [
            {"key": "household", "name": "生活垃圾"},
            {"key": "bulky", "name": "大件垃圾"},
            {"key": "building", "name": "建筑垃圾"},
        ],
    }
    assert smell["datatype"] == "multivaluelist" and not smell["required"]
    assert volume["datatype_description"] == "立方米，可带小数" and volume["values"] == []
    # Every component service has the component's ID as an optional field.
    (component,) = get("services/component-0108", fmt, "service_definition")["attributes"]
    assert (component["code"], component["datatype"], component["required"]) == (
        "component_code",
        "string",
        False,
    )
    assert get("services/event-0102", fmt, "service_definition")["attributes"] == []


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "path",
    [
        "services/event-9999",
        "services/event-01",
        "services/road",
        "requests/999999",
        "requests/abc",
        "tokens/12345",
        "nothing/here",
    ],
)
def test_what_does_not_exist_is_404_with_the_error_body(
    loop: dict[str, User], fmt: str, path: str
) -> None:
    (error,) = get(path, fmt, "errors", expect=404)
    assert error["code"] == 404 and error["description"]


def test_an_unknown_format_is_404_in_xml(db: None) -> None:
    response = Client().get(f"{V2}/services.html")
    assert response.status_code == 404
    (error,) = read(response.content, response["Content-Type"], "xml", "errors")
    assert ".xml" in error["description"] and "html" in error["description"]


def test_only_the_methods_of_the_specification_are_served(db: None) -> None:
    response = Client().post(f"{V2}/services.json", {})
    assert response.status_code == 400
    (error,) = read(response.content, response["Content-Type"], "json", "errors")
    assert "POST" in error["description"]
    assert Client().head(f"{V2}/services.json").status_code == 200


# ---- requests -------------------------------------------------------------------------


@pytest.fixture
def cases(loop: dict[str, User], small_city: dict[str, Area]) -> dict[str, int]:
    """One case in each kind of state, in 天河区 (and one in 越秀区)."""
    found = {
        "reported": ticket(small_city, loop["hotline"]),
        # Street order (05) from an inspector is filed and dispatched at once.
        "dispatched": report(loop["inspector"], small_city, category="0501").json()["case"]["id"],
        "cancelled": ticket(small_city, loop["hotline"], category="0102"),
        "merged": ticket(small_city, loop["hotline"], description="又是那堆垃圾"),
        "yuexiu": ticket(small_city, loop["hotline"], cell=YUEXIU_CELL),
    }
    act(loop["street"], found["cancelled"], "cancel", reason="内部：已电话联系张三 13812345678")
    act(loop["hotline"], found["merged"], "merge", into=found["reported"])
    return found


@pytest.mark.parametrize("fmt", FORMATS)
def test_requests_show_status_agency_and_deadline_without_personal_data(
    loop: dict[str, User], cases: dict[str, int], fmt: str
) -> None:
    response = Client().get(f"{V2}/requests.{fmt}")
    found = {
        r["service_request_id"]: r
        for r in read(response.content, response["Content-Type"], fmt, "service_requests")
    }
    assert set(found) == {str(case_id) for case_id in cases.values()}
    reported = found[str(cases["reported"])]
    assert reported["status"] == "open" and reported["status_notes"] == "已受理，等待立案审核"
    assert reported["service_code"] == "event-0101" and reported["service_name"] == "暴露垃圾"
    assert reported["agency_responsible"] is None and reported["expected_datetime"] is None
    assert reported["address"] == "天河路口"
    case = Case.objects.get(pk=cases["reported"])
    assert reported["requested_datetime"] == timezone.localtime(case.created_at).isoformat(
        timespec="seconds"
    )
    assert reported["requested_datetime"].endswith("+08:00")
    assert (reported["lat"], reported["long"]) == pytest.approx((case.geom.y, case.geom.x))

    dispatched = found[str(cases["dispatched"])]
    case = Case.objects.select_related("unit").get(pk=cases["dispatched"])
    assert dispatched["status"] == "open" and case.state == State.DISPATCHED
    assert dispatched["agency_responsible"] == case.unit.name  # type: ignore[union-attr]
    assert dispatched["expected_datetime"] == timezone.localtime(case.due_at).isoformat(
        timespec="seconds"
    )
    assert found[str(cases["cancelled"])]["status"] == "closed"
    merged = found[str(cases["merged"])]
    assert merged["status"] == "closed" and str(cases["reported"]) in merged["status_notes"]
    # Nothing personal, nothing staff typed: caller, reporter, the cancel reason.
    body = response.content.decode()
    for secret in (CALLER_NAME, CALLER_PHONE, "13812345678", "张三", "hotline", "inspector"):
        assert secret not in body


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_request_is_a_one_element_list_and_extensions_add_its_history(
    loop: dict[str, User], cases: dict[str, int], fmt: str
) -> None:
    case_id = cases["dispatched"]
    (one,) = get(f"requests/{case_id}", fmt, "service_requests")
    assert one["service_request_id"] == str(case_id) and "notes" not in one
    (one,) = get(f"requests/{case_id}", fmt, "service_requests", extensions="true")
    unit = Case.objects.get(pk=case_id).unit
    assert [note["type"] for note in one["notes"]] == ["report", "file", "dispatch"]
    assert [note["description"] for note in one["notes"]] == ["上报", "立案", f"派遣 → {unit}"]
    (cancelled,) = get(f"requests/{cases['cancelled']}", fmt, "service_requests", extensions="true")
    assert cancelled["notes"][-1]["description"] == "注销"  # not the reason staff typed
    listed = get("requests", fmt, "service_requests", extensions="true")
    assert all(len(request["notes"]) >= 1 for request in listed)


def test_the_list_costs_the_same_queries_for_many_requests(
    loop: dict[str, User], small_city: dict[str, Area], django_assert_max_num_queries: Any
) -> None:
    for _ in range(12):
        ticket(small_city, loop["hotline"])
    with django_assert_max_num_queries(3):
        response = Client().get(f"{V2}/requests.json", {"extensions": "true"})
    assert len(response.json()) == 12


def test_requests_filter_by_id_service_status_and_page(
    loop: dict[str, User], cases: dict[str, int]
) -> None:
    def ids(**params: Any) -> list[int]:
        return [
            int(r["service_request_id"])
            for r in get("requests", "json", "service_requests", **params)
        ]

    # Several ids, comma-delimited, override the other arguments.
    wanted = f"{cases['reported']},{cases['cancelled']}"
    assert sorted(ids(service_request_id=wanted, status="closed")) == sorted(
        [cases["reported"], cases["cancelled"]]
    )
    assert set(ids(status="closed")) == {cases["cancelled"], cases["merged"]}
    assert set(ids(status="open,closed")) == set(cases.values())
    assert set(ids(service_code="event-0501")) == {cases["dispatched"]}
    assert set(ids(service_code="event-0501,event-0102")) == {
        cases["dispatched"],
        cases["cancelled"],
    }
    newest_first = ids()
    assert newest_first == sorted(cases.values(), reverse=True)
    assert ids(page_size="2", page="2") == newest_first[2:4]
    assert ids(page_size="2", page="9") == []
    # Empty optional arguments are the same as none.
    assert ids(status="", service_code="", start_date="") == newest_first


def test_requests_are_the_last_90_days_unless_asked(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    now = timezone.now()
    with clock.travel(now - dt.timedelta(days=100)):
        old = ticket(small_city, loop["hotline"])
    recent = ticket(small_city, loop["hotline"])

    def ids(**params: Any) -> set[int]:
        return {
            int(r["service_request_id"])
            for r in get("requests", "xml", "service_requests", **params)
        }

    assert ids() == {recent}
    since = timezone.localtime(now - dt.timedelta(days=101))
    assert ids(start_date=since.isoformat()) == {old}  # the 90 days from start_date
    utc = (now - dt.timedelta(days=120)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(start_date=utc, end_date=since.date().isoformat()) == set()
    assert ids(end_date=(now - dt.timedelta(days=99)).isoformat()) == {old}
    assert ids(service_request_id=str(old)) == {old}  # ids ignore the window


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90"),
        ({"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-05-01T00:00:00Z"}, "早于"),
        ({"start_date": "2026-06-01T10:00:00"}, "时区"),
        ({"end_date": "yesterday"}, "end_date"),
        ({"status": "pending"}, "status"),
        ({"page": "0"}, "page"),
        ({"page_size": "1001"}, "page_size"),
        ({"service_request_id": "12,abc"}, "abc"),
        ({"extensions": "maybe"}, "extensions"),
    ],
)
def test_bad_query_arguments_are_400_and_say_which(
    db: None, params: dict[str, str], words: str
) -> None:
    for fmt in FORMATS:
        (error,) = get("requests", fmt, "errors", expect=400, **params)
        assert error["code"] == 400 and words in error["description"]


def test_an_unknown_service_code_in_a_filter_is_404(loop: dict[str, User]) -> None:
    (error,) = get("requests", "json", "errors", expect=404, service_code="event-0101,nope")
    assert "nope" in error["description"]


# ---- keys and scopes ------------------------------------------------------------------


def test_a_key_reads_the_requests_of_its_scope(
    loop: dict[str, User], cases: dict[str, int]
) -> None:
    _app, yuexiu_key = make_client("越秀区随手拍", scope="440104")
    mine = get("requests", "json", "service_requests", api_key=yuexiu_key)
    assert [r["service_request_id"] for r in mine] == [str(cases["yuexiu"])]
    get(f"requests/{cases['reported']}", "json", "errors", expect=404, api_key=yuexiu_key)
    (one,) = get(f"requests/{cases['yuexiu']}", "xml", "service_requests", api_key=yuexiu_key)
    assert one["service_request_id"] == str(cases["yuexiu"])
    # Without a key: public reading, the whole city.
    assert len(get("requests", "json", "service_requests")) == len(cases)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_wrong_or_revoked_key_is_403_even_for_reading(loop: dict[str, User], fmt: str) -> None:
    (error,) = get("requests", fmt, "errors", expect=403, api_key="o311_not-a-key")
    assert error["code"] == 403 and "api_key" in error["description"]
    app, secret = make_client()
    key_revoke(key_ids=list(ApiKey.objects.filter(application=app).values_list("pk", flat=True)))
    (error,) = get("requests/1", fmt, "errors", expect=403, api_key=secret)
    assert "吊销" in error["description"]


# ---- encoding -------------------------------------------------------------------------


def test_xml_escapes_markup_and_replaces_what_xml_cannot_carry(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    _app, secret = make_client()
    point = centre(small_city[INSPECTOR_CELL])
    text = "<b>井盖 & \"垃圾\"</b> 'x' ]]> \x07响铃"
    body = urlencode(
        {
            "api_key": secret,
            "service_code": "event-0102",
            "lat": point.y,
            "long": point.x,
            "description": text,
        }
    )
    created = Client().post(
        f"{V2}/requests.xml", body, content_type="application/x-www-form-urlencoded"
    )
    assert created.status_code == 201, created.content
    (one,) = read(created.content, created["Content-Type"], "xml", "post_request")
    response = Client().get(f"{V2}/requests/{one['service_request_id']}.xml")
    raw = response.content
    assert b"<b>" not in raw and b"&lt;b&gt;" in raw
    request = ET.fromstring(raw).find("request")  # noqa: S314
    assert request is not None
    assert request.findtext("description") == text.replace("\x07", "\ufffd")
    # JSON carries it as it is.
    json_response = Client().get(f"{V2}/requests/{one['service_request_id']}.json")
    assert json_response.json()[0]["description"] == text


def test_category_of_a_case_keeps_its_service_when_kinds_share_a_code(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    component = Category.objects.get(kind=CategoryKind.COMPONENT, major_code="01", minor_code="01")
    case_id = ticket(small_city, loop["hotline"], category="0101")
    Case.objects.filter(pk=case_id).update(category=component)
    (one,) = get(f"requests/{case_id}", "json", "service_requests")
    assert (one["service_code"], one["service_name"]) == ("component-0101", "上水井盖")
