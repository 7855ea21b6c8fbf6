"""Open311 GeoReport v2, filing: POST requests over real HTTP (pytest-django's live
server, a threaded WSGI server), form-encoded as the specification says. A request goes
through the hotline's intake (dispatch.services.case_take_ticket): placement, geocoding,
duplicates, routing and the outbox, as the application's service user. Every rule of
the errors is tried, in both formats."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from pytest_django.live_server_helper import LiveServer

from dispatch.models import RoutingRule, TargetTier
from incidents.models import Case, CaseEvent, Channel, Outbox, Source, State
from layers.models import Address, Area, Role, Staff
from open311.clients import key_revoke
from open311.models import Datatype, Open311Request, ServiceAttribute
from tests.cast import CELLS, centre
from tests.loop import INSPECTOR_CELL, YUEXIU_CELL, client_for, event_category
from tests.open311 import FORMATS, make_client, read

pytestmark = pytest.mark.django_db(transaction=True)

FORM = "application/x-www-form-urlencoded"


def post(live_server: LiveServer, fmt: str, data: Any, *, expect: int = 201) -> Any:
    """POST requests.{fmt}, form-encoded; `data` as requests encodes it (a list of pairs
    repeats a key)."""
    response = requests.post(f"{live_server.url}/open311/v2/requests.{fmt}", data=data, timeout=30)
    assert response.request.headers["Content-Type"] == FORM
    assert response.status_code == expect, response.text[:800]
    schema = "post_request" if expect == 201 else "errors"
    return read(response.content, response.headers["Content-Type"], fmt, schema)


def at(city: dict[str, Area], cell: str = INSPECTOR_CELL) -> dict[str, float]:
    point = centre(city[cell])
    return {"lat": point.y, "long": point.x}


@pytest.fixture
def demo(loop: dict[str, User]) -> tuple[Any, str]:
    """The city-wide demo application and its key."""
    return make_client()


def test_a_post_files_a_case_as_the_hotline_would(
    live_server: LiveServer, small_city: dict[str, Area], demo: tuple[Any, str]
) -> None:
    app, secret = demo
    category = event_category("0101")
    ServiceAttribute.objects.create(
        category=category,
        code="smell",
        description="异味",
        order=1,
        datatype=Datatype.MULTIVALUELIST,
        choices="rot=腐臭\nchemical=化学气味",
    )
    data = [
        ("api_key", secret),
        ("service_code", "event-0101"),
        *at(small_city).items(),
        ("address_string", "华景路口东侧"),
        ("description", "路边一堆垃圾，已经三天了"),
        ("attribute[smell][]", "rot"),
        ("attribute[smell][]", "chemical"),
        ("first_name", "娜娜"),
        ("last_name", "欧阳"),
        ("phone", "139 1234 5678"),
        ("email", "nana@example.cn"),
        ("device_id", "phone-42"),
        ("account_id", "u-7"),
        ("media_url", "https://img.example.cn/a.jpg"),
        ("jurisdiction_id", "gz.gov.cn"),
    ]
    (created,) = post(live_server, "json", data)
    assert created["account_id"] == "u-7"
    assert created["service_notice"].startswith(f"已受理，编号 {created['service_request_id']}。")
    assert "处置时限 4 工作时" in created["service_notice"]

    case = Case.objects.select_related("cell").get(pk=int(created["service_request_id"]))
    assert (case.source, case.channel, case.state) == (Source.OPEN311, Channel.WEB, State.REPORTED)
    assert case.reporter == app.user and case.category == category
    assert case.cell.code == INSPECTOR_CELL and case.datum == "wgs84"
    assert case.geom.distance(centre(small_city[INSPECTOR_CELL])) < 1e-9  # WGS 84 as stored
    assert case.address_text == "华景路口东侧"
    assert case.attributes == {"smell": ["rot", "chemical"]}
    assert (case.caller_name, case.caller_phone) == ("欧阳娜娜", "13912345678")
    assert case.media_url == "https://img.example.cn/a.jpg"
    # The intake's history and live event, in the 12345 centre's name.
    (event,) = CaseEvent.objects.filter(case=case)
    assert (event.action, event.actor, event.actor_unit) == ("report", app.user, app.unit)
    assert list(Outbox.objects.filter(case=case).values_list("kind", flat=True)) == ["case.report"]
    link = Open311Request.objects.get(case=case)
    assert (link.application, link.email, link.device_id, link.account_id) == (
        app,
        "nana@example.cn",
        "phone-42",
        "u-7",
    )

    # Reading it back: the link to the photo, nothing personal.
    response = requests.get(f"{live_server.url}/open311/v2/requests/{case.pk}.json", timeout=30)
    (one,) = read(response.content, response.headers["Content-Type"], "json", "service_requests")
    assert one["media_url"] == "https://img.example.cn/a.jpg"
    assert one["description"] == "路边一堆垃圾，已经三天了"
    for personal in ("欧阳", "13912345678", "nana@", "phone-42", "u-7", app.user.username):
        assert personal not in response.text


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_post_is_routed_and_auto_dispatched_as_a_12345_ticket_is(
    live_server: LiveServer,
    loop: dict[str, User],
    small_city: dict[str, Area],
    demo: tuple[Any, str],
    fmt: str,
) -> None:
    RoutingRule.objects.create(
        order=1,
        name="网站上报的暴露垃圾直接派街道",
        channel=Channel.WEB,
        category=event_category("0101"),
        tier=TargetTier.STREET,
        owner_only=True,
        auto_dispatch=True,
    )
    _app, secret = demo
    point = at(small_city)
    (created,) = post(live_server, fmt, {"api_key": secret, "service_code": "event-0101", **point})
    mine = Case.objects.get(pk=int(created["service_request_id"]))
    # The same problem through the hotline API, on the same channel.
    hotline = (
        client_for(loop["hotline"])
        .post(
            "/api/cases/tickets/",
            {
                "channel": "web",
                "category": event_category("0101").pk,
                "description": "暴露垃圾",
                "address_text": "同一处",
                "lon": point["long"],
                "lat": point["lat"],
            },
            format="json",
        )
        .json()
    )
    theirs = Case.objects.get(pk=hotline["case"]["id"])
    assert (mine.state, mine.unit, mine.due_at is not None) == (State.DISPATCHED, theirs.unit, True)
    assert [e.action for e in mine.history.order_by("at", "id")] == ["report", "file", "dispatch"]
    # The description was optional: the service's name says what the problem is.
    assert mine.description == "暴露垃圾"
    response = requests.get(f"{live_server.url}/open311/v2/requests/{mine.pk}.{fmt}", timeout=30)
    (one,) = read(response.content, response.headers["Content-Type"], fmt, "service_requests")
    assert one["agency_responsible"] == str(mine.unit) and one["expected_datetime"]
    # The second report was offered the first as a likely duplicate, the first none.
    assert "可能合并" not in created["service_notice"]
    assert [c["id"] for c in hotline["likely_duplicates"]] == [mine.pk]


def test_a_post_names_likely_duplicates_in_its_notice(
    live_server: LiveServer, small_city: dict[str, Area], demo: tuple[Any, str]
) -> None:
    _app, secret = demo
    body = {"api_key": secret, "service_code": "event-0101", **at(small_city)}
    (first,) = post(live_server, "json", body)
    (second,) = post(live_server, "xml", body)
    assert f"编号 {first['service_request_id']}）" in second["service_notice"]


@pytest.fixture
def register(small_city: dict[str, Area]) -> dict[str, Address]:
    texts = {
        "A1": ("广州市天河区华景路123号华景新城5栋", CELLS["own"]),
        "A2": ("广州市天河区华景路123号华景新城6栋", CELLS["own"]),
        "A3": ("广州市天河区同和路8号", CELLS["street"]),
        "A4": ("广州市越秀区同和路8号", CELLS["other_district"]),
    }
    return {
        code: Address.objects.create(code=code, text=text, geom=centre(small_city[cell]))
        for code, (text, cell) in texts.items()
    }


def test_a_post_by_address_string_or_address_id_uses_the_standard_address(
    live_server: LiveServer, register: dict[str, Address], demo: tuple[Any, str]
) -> None:
    _app, secret = demo
    base = {"api_key": secret, "service_code": "event-0102"}
    (by_words,) = post(live_server, "json", {**base, "address_string": "天河区同和路8号"})
    case = Case.objects.get(pk=int(by_words["service_request_id"]))
    assert case.address == register["A3"] and case.address_text == "天河区同和路8号"
    assert case.cell.code == CELLS["street"]
    (by_id,) = post(live_server, "xml", {**base, "address_id": "A4"})
    case = Case.objects.get(pk=int(by_id["service_request_id"]))
    assert case.address == register["A4"] and case.address_text == "广州市越秀区同和路8号"
    assert case.cell.code == CELLS["other_district"]
    response = requests.get(f"{live_server.url}/open311/v2/requests/{case.pk}.json", timeout=30)
    assert response.json()[0]["address_id"] == "A4"

    # Two districts have a 同和路8号, two buildings share 华景路123号: no guessing.
    for words in ("同和路8号", "华景路123号华景新城"):
        (error,) = post(live_server, "json", {**base, "address_string": words}, expect=400)
        assert "无法确定" in error["description"] and "lat" in error["description"]
    (error,) = post(live_server, "json", {**base, "address_string": "火星路1号"}, expect=400)
    assert "无法定位" in error["description"]
    (error,) = post(live_server, "json", {**base, "address_id": "NOPE"}, expect=400)
    assert "NOPE" in error["description"]


def test_a_key_files_only_inside_its_scope_border_included(
    live_server: LiveServer,
    loop: dict[str, User],
    small_city: dict[str, Area],
    register: dict[str, Address],
) -> None:
    _app, secret = make_client("越秀区随手拍", scope="440104")
    base = {"api_key": secret, "service_code": "event-0102"}
    (error,) = post(live_server, "json", {**base, **at(small_city)}, expect=400)
    assert "越秀区" in error["description"]
    # 越秀区's addresses only: the Tianhe 同和路8号 is out of its reach, so no ambiguity.
    (created,) = post(live_server, "json", {**base, "address_string": "同和路8号"})
    assert Case.objects.get(pk=int(created["service_request_id"])).address == register["A4"]
    (error,) = post(live_server, "json", {**base, "address_id": "A3"}, expect=400)
    assert "受理范围" in error["description"]
    # A point exactly on the border between 天河区 and 越秀区 belongs to both.
    west, south, _east, north = small_city["440104"].geom.extent
    border = Point(west, (south + north) / 2 + 0.001, srid=4326)
    (created,) = post(live_server, "json", {**base, "lat": border.y, "long": border.x})
    assert Case.objects.filter(pk=int(created["service_request_id"])).exists()
    (yuexiu,) = post(live_server, "xml", {**base, **at(small_city, YUEXIU_CELL)})
    assert Case.objects.get(pk=int(yuexiu["service_request_id"])).district.code == "440104"


@pytest.mark.parametrize("fmt", FORMATS)
def test_keys_are_required_and_checked(
    live_server: LiveServer, small_city: dict[str, Area], demo: tuple[Any, str], fmt: str
) -> None:
    app, secret = demo
    body = {"service_code": "event-0101", **at(small_city)}
    for key in ({}, {"api_key": ""}, {"api_key": "o311_guessed"}):
        (error,) = post(live_server, fmt, {**body, **key}, expect=403)
        assert error["code"] == 403 and "api_key" in error["description"]
    key_revoke(key_ids=list(app.keys.values_list("pk", flat=True)))
    (error,) = post(live_server, fmt, {**body, "api_key": secret}, expect=403)
    assert "吊销" in error["description"]
    # An application whose service user lost its hotline post cannot file either.
    other, fresh = make_client("另一个应用")
    Staff.objects.filter(user=other.user).update(role=Role.INSPECTOR)
    (error,) = post(live_server, fmt, {**body, "api_key": fresh}, expect=403)
    assert "12345坐席" in error["description"]
    assert Case.objects.count() == 0
    Staff.objects.filter(user=other.user).update(role=Role.HOTLINE)
    post(live_server, fmt, {**body, "api_key": fresh})
    assert Case.objects.count() == 1


# (what changes in a good form, the status it gets, words its error must say)
RULES: list[tuple[dict[str, str], int, str]] = [
    ({"service_code": "event-9999"}, 404, "event-9999"),
    ({"service_code": ""}, 400, "service_code"),
    ({"lat": "", "long": ""}, 400, "address_string"),
    ({"long": ""}, 400, "lat 和 long"),
    ({"lat": "95"}, 400, "-90"),
    ({"lat": "north"}, 400, "lat"),
    ({"lat": "30.0", "long": "120.0"}, 400, "受理范围"),
    ({"description": "x" * 4001}, 400, "4000"),
    ({"phone": "12345"}, 400, "phone"),
    ({"email": "not-an-address"}, 400, "email"),
    ({"media_url": "ftp://example.cn/a.jpg"}, 400, "media_url"),
    ({"first_name": "名" * 30, "last_name": "姓" * 30}, 400, "50"),
    ({"attribute[colour]": "red"}, 400, "colour"),
    ({"attribute[volume]": "lots"}, 400, "volume"),
    ({"attribute[smell][]": "sweet"}, 400, "sweet"),
    ({"attributes": "x"}, 400, "attribute["),
]


def test_each_rule_of_the_form_is_an_error_and_files_nothing(
    live_server: LiveServer, small_city: dict[str, Area], demo: tuple[Any, str]
) -> None:
    category = event_category("0101")
    ServiceAttribute.objects.create(
        category=category,
        code="smell",
        description="异味",
        order=1,
        datatype=Datatype.MULTIVALUELIST,
        choices="rot=腐臭",
    )
    ServiceAttribute.objects.create(
        category=category,
        code="volume",
        description="体积",
        order=2,
        datatype=Datatype.NUMBER,
        required=True,
    )
    good = {
        "api_key": demo[1],
        "service_code": "event-0101",
        **at(small_city),
        "attribute[volume]": "1.5",
    }
    for change, status, words in RULES:
        for fmt in FORMATS:
            errors = post(live_server, fmt, {**good, **change}, expect=status)
            assert all(error["code"] == status for error in errors), change
            assert words in " ".join(error["description"] for error in errors), change
    assert Case.objects.count() == 0
    post(live_server, "json", good)  # the good form itself is filed
    assert Case.objects.count() == 1


def test_a_required_attribute_and_all_problems_at_once(
    live_server: LiveServer, small_city: dict[str, Area], demo: tuple[Any, str]
) -> None:
    category = event_category("0101")
    ServiceAttribute.objects.create(
        category=category,
        code="kind",
        description="种类",
        order=1,
        datatype=Datatype.SINGLEVALUELIST,
        required=True,
        choices="household=生活垃圾\nbulky=大件垃圾",
    )
    body = {"api_key": demo[1], "service_code": "event-0101", **at(small_city)}
    errors = post(live_server, "json", {**body, "attribute[odd]": "1"}, expect=400)
    assert len(errors) == 2
    assert errors[0]["description"].startswith("服务 event-0101 没有附加字段 odd")
    assert errors[1]["description"].startswith("attribute[kind]: 此项必填")
    errors = post(
        live_server,
        "json",
        [*body.items(), ("attribute[kind]", "household"), ("attribute[kind]", "bulky")],
        expect=400,
    )
    assert "一个值" in errors[0]["description"]
    (created,) = post(live_server, "json", {**body, "attribute[kind]": "bulky"})
    case = Case.objects.get(pk=int(created["service_request_id"]))
    assert case.attributes == {"kind": ["bulky"]}


def test_a_component_service_takes_the_component_code(
    live_server: LiveServer, small_city: dict[str, Area], demo: tuple[Any, str]
) -> None:
    body = {"api_key": demo[1], "service_code": "component-0101", **at(small_city)}
    (error,) = post(live_server, "json", {**body, "attribute[component_code]": "12"}, expect=400)
    assert "component_code" in error["description"]
    (created,) = post(
        live_server, "json", {**body, "attribute[component_code]": "4401060101000001"}
    )
    case = Case.objects.get(pk=int(created["service_request_id"]))
    assert case.attributes == {"component_code": ["4401060101000001"]}
    assert case.category.kind == "component"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_body_that_is_not_form_encoded_is_400(
    live_server: LiveServer, small_city: dict[str, Area], demo: tuple[Any, str], fmt: str
) -> None:
    url = f"{live_server.url}/open311/v2/requests.{fmt}"
    body: dict[str, Any] = {"api_key": demo[1], "service_code": "event-0101", **at(small_city)}
    response = requests.post(url, json=body, timeout=30)
    assert response.status_code == 400
    (error,) = read(response.content, response.headers["Content-Type"], fmt, "errors")
    assert "application/x-www-form-urlencoded" in error["description"]
    # The specification's content type with its charset is the normal case.
    encoded = requests.models.RequestEncodingMixin._encode_params(body)
    response = requests.post(
        url, data=encoded, timeout=30, headers={"Content-Type": f"{FORM}; charset=utf-8"}
    )
    assert response.status_code == 201, response.text
