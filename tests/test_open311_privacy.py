"""What Open311 shows without a key (docs/open311.md, "Reading requests"): only cases of
the public sources (no 12345 ticket by default, in the list and one by one), phone and
ID numbers masked in every text, points at the public precision; with a key, its scope
at full precision, texts masked all the same. And the discovery changeset never moves
backwards."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.test import Client

from incidents.models import Case, Source
from layers.models import Area
from open311.catalogue import changeset
from open311.models import Datatype, ServiceAttribute
from open311.privacy import mask_numbers, public_text
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, client_for, event_category, report
from tests.open311 import FORMATS, make_client, read

V2 = "/open311/v2"
PERSONAL = (
    "张先生电话13912345678，备用 +86 139-8765-4321，座机(020)87654321，身份证440106199001011234"
)
MASKED = "张先生电话139****5678，备用 139****4321，座机020****4321，身份证440106********1234"


@pytest.fixture(autouse=True)
def no_rate_limits(settings: Any) -> None:
    """Without rates: these tests send more requests from one address than a minute's
    allowance (a scope without a rate is not limited, accounts.throttling)."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {}}


def listed(fmt: str = "json", **params: Any) -> dict[str, dict[str, Any]]:
    response = Client().get(f"{V2}/requests.{fmt}", params)
    assert response.status_code == 200, response.content[:400]
    found = read(response.content, response["Content-Type"], fmt, "service_requests")
    return {r["service_request_id"]: r for r in found}


def hotline_ticket(city: dict[str, Area], hotline: User, description: str = "路口有垃圾") -> int:
    point = centre(city[INSPECTOR_CELL])
    body = {
        "channel": "phone",
        "category": event_category("0101").pk,
        "description": description,
        "address_text": "天河路口",
        "caller_name": "欧阳娜娜",
        "caller_phone": "13912345678",
        "lon": point.x,
        "lat": point.y,
    }
    response = client_for(hotline).post("/api/cases/tickets/", body, format="json")
    assert response.status_code == 201, response.json()
    return int(response.json()["case"]["id"])


def open311_request(city: dict[str, Area], secret: str, **extra: str) -> int:
    point = centre(city[INSPECTOR_CELL])
    fields = {
        "api_key": secret,
        "service_code": "event-0101",
        "lat": f"{point.y:.7f}",
        "long": f"{point.x:.7f}",
        "description": "井盖缺失",
        **extra,
    }
    created = Client().post(
        f"{V2}/requests.json", urlencode(fields), content_type="application/x-www-form-urlencoded"
    )
    assert created.status_code == 201, created.content
    return int(created.json()[0]["service_request_id"])


@pytest.fixture
def three(loop: dict[str, User], small_city: dict[str, Area]) -> dict[str, int]:
    """One case from each source, each with a caller's numbers in its description."""
    _app, secret = make_client()
    # Off the cell's centre, which lies on a round grid of the test city.
    point = centre(small_city[INSPECTOR_CELL])
    reported = report(
        loop["inspector"],
        small_city,
        description=PERSONAL,
        lon=point.x + 0.00012345,
        lat=point.y + 0.00012345,
    )
    assert reported.status_code == 201, reported.json()
    return {
        "hotline": hotline_ticket(small_city, loop["hotline"], PERSONAL),
        "inspector": reported.json()["case"]["id"],
        "open311": open311_request(small_city, secret, description=PERSONAL),
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_without_a_key_12345_tickets_are_neither_listed_nor_found(
    three: dict[str, int], fmt: str
) -> None:
    assert Case.objects.get(pk=three["hotline"]).source == Source.HOTLINE
    assert set(listed(fmt)) == {str(three["inspector"]), str(three["open311"])}
    assert set(listed(fmt, service_request_id=",".join(map(str, three.values())))) == {
        str(three["inspector"]),
        str(three["open311"]),
    }
    one = Client().get(f"{V2}/requests/{three['hotline']}.{fmt}")
    assert one.status_code == 404
    assert Client().get(f"{V2}/requests/{three['inspector']}.{fmt}").status_code == 200


def test_the_public_sources_are_a_setting(three: dict[str, int], settings: Any) -> None:
    settings.OPEN311_PUBLIC_SOURCES = ["hotline"]
    assert set(listed()) == {str(three["hotline"])}
    assert Client().get(f"{V2}/requests/{three['inspector']}.json").status_code == 404


@pytest.mark.parametrize("fmt", FORMATS)
def test_phone_and_id_numbers_are_masked_in_public_text(three: dict[str, int], fmt: str) -> None:
    found = listed(fmt)
    for source in ("inspector", "open311"):
        assert found[str(three[source])]["description"] == MASKED
    response = Client().get(f"{V2}/requests/{three['open311']}.{fmt}", {"extensions": "true"})
    body = response.content.decode()
    for secret in ("13912345678", "8765-4321", "87654321", "199001011234"):
        assert secret not in body


@pytest.mark.parametrize("fmt", FORMATS)
def test_points_are_public_at_three_decimals_and_a_key_reads_them_whole(
    three: dict[str, int], fmt: str
) -> None:
    case = Case.objects.get(pk=three["inspector"])
    public = listed(fmt)[str(case.pk)]
    assert (public["lat"], public["long"]) == (round(case.geom.y, 3), round(case.geom.x, 3))
    assert (public["lat"], public["long"]) != (round(case.geom.y, 7), round(case.geom.x, 7))
    _app, secret = make_client("同城应用")
    keyed = listed(fmt, api_key=secret)
    mine = keyed[str(case.pk)]
    assert (mine["lat"], mine["long"]) == (round(case.geom.y, 7), round(case.geom.x, 7))
    # A key reads the 12345 tickets of its scope, their texts masked all the same.
    assert keyed[str(three["hotline"])]["description"] == MASKED


def test_coordinates_written_in_an_address_are_coarsened_too(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    _app, secret = make_client()
    case_id = open311_request(small_city, secret)  # no address_string: the point written out
    (one,) = Client().get(f"{V2}/requests/{case_id}.json").json()
    point = centre(small_city[INSPECTOR_CELL])
    lat, lon = f"{point.y:.6f}", f"{point.x:.6f}"
    assert Case.objects.get(pk=case_id).address_text == f"经纬度 {lat}, {lon}"
    assert one["address"] == f"经纬度 {lat[:-3]}, {lon[:-3]}"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+8613812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("电话：020-87654321转8", "电话：020****4321转8"),
        ("0755 23456789", "075*****6789"),
        ("打87654321", "打******21"),
        ("44010619900101123X", "440106********123X"),
        # Public codes stay: a component (16 digits), a grid cell (15), a district (6),
        # a date, a case number.
        ("井盖 4401060101000001 破损", "井盖 4401060101000001 破损"),
        ("网格 440106001001001", "网格 440106001001001"),
        ("2026-11-23 第12号 440106", "2026-11-23 第12号 440106"),
    ],
)
def test_number_masks(text: str, masked: str) -> None:
    assert mask_numbers(text) == masked


def test_public_text_cuts_long_decimals_before_masking() -> None:
    assert public_text("经纬度 23.1051234, 113.3054567") == "经纬度 23.105, 113.305"


# ---- changeset ----------------------------------------------------------------------


def test_the_changeset_does_not_move_back_when_the_newest_attribute_is_deleted(
    loop: dict[str, User], time_machine: Any
) -> None:
    category = event_category("0101")
    admin = Client()
    admin.force_login(loop["admin"])
    time_machine.move_to("2026-12-01 10:00:00+08:00", tick=False)
    ServiceAttribute.objects.create(
        category=category, code="kind", description="种类", order=1, datatype=Datatype.STRING
    )
    time_machine.move_to("2026-12-02 10:00:00+08:00", tick=False)
    newest = ServiceAttribute.objects.create(
        category=category, code="size", description="大小", order=2, datatype=Datatype.STRING
    )
    assert changeset() == "2026-12-02T10:00:00+08:00"
    time_machine.move_to("2026-12-03 10:00:00+08:00", tick=False)
    deleted = admin.post(f"/admin/open311/serviceattribute/{newest.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not ServiceAttribute.objects.filter(pk=newest.pk).exists()
    # The services changed (one attribute fewer): the changeset says when.
    assert changeset() == "2026-12-03T10:00:00+08:00"
    (endpoint,) = Client().get(f"{V2}/discovery.json").json()["endpoints"]
    assert endpoint["changeset"] == "2026-12-03T10:00:00+08:00"
