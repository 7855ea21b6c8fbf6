"""A third-party Open311 client reads our endpoints: `georeport` from PyPI (it only reads)
against a live test server, in both of its output formats. Its URLs are its own
(root + /services.json, /services/{code}.json, /requests.json, /requests/{id}.json)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from django.contrib.auth.models import User
from django.utils import timezone
from georeport import GeoReport
from pytest_django.live_server_helper import LiveServer

from layers.models import Area, Category
from open311.models import Datatype, ServiceAttribute
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, YUEXIU_CELL, act, event_category
from tests.open311 import make_client

pytestmark = pytest.mark.django_db(transaction=True)


def as_list(value: Any) -> list[Any]:
    # xmltodict reads one repeated element as a dict, several as a list.
    return value if isinstance(value, list) else [value]


@pytest.fixture
def filed(loop: dict[str, User], small_city: dict[str, Area], live_server: LiveServer) -> list[str]:
    """Three requests filed over HTTP by the demo application; the last one cancelled."""
    ServiceAttribute.objects.create(
        category=event_category("0101"),
        code="kind",
        description="垃圾种类",
        order=1,
        datatype=Datatype.SINGLEVALUELIST,
        required=True,
        choices="household=生活垃圾\nbulky=大件垃圾",
    )
    _app, secret = make_client()
    ids = []
    for cell, code, extra in [
        (INSPECTOR_CELL, "event-0101", {"attribute[kind]": "bulky"}),
        (YUEXIU_CELL, "event-0102", {}),
        (INSPECTOR_CELL, "event-0102", {}),
    ]:
        point = centre(small_city[cell])
        body = {
            "api_key": secret,
            "service_code": code,
            "lat": point.y,
            "long": point.x,
            "description": f"{code} 测试",
            **extra,
        }
        response = requests.post(
            f"{live_server.url}/open311/v2/requests.json", data=body, timeout=30
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()[0]["service_request_id"])
    act(loop["street"], int(ids[2]), "cancel", reason="重复")
    return ids


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_the_georeport_client_reads_services_and_requests(
    live_server: LiveServer, filed: list[str], output_format: str
) -> None:
    client = GeoReport(f"{live_server.url}/open311/v2/", output_format=output_format)

    services = {s["service_code"]: s for s in client.get_service_list()}
    assert len(services) == Category.objects.filter(active=True).exclude(minor_code="").count()
    assert services["event-0101"]["service_name"] == "暴露垃圾"
    assert str(services["event-0101"]["metadata"]).lower() == "true"

    definition = client.get_service_definition("event-0101")
    (attribute,) = as_list(
        definition["attributes"]
        if output_format == "json"
        else definition["attributes"]["attribute"]
    )
    assert attribute["code"] == "kind" and attribute["datatype"] == "singlevaluelist"
    values = attribute["values"] if output_format == "json" else attribute["values"]["value"]
    assert [v["key"] for v in values] == ["household", "bulky"]

    everything = as_list(client.get_service_requests())
    assert [r["service_request_id"] for r in everything] == filed[::-1]  # newest first
    open_ones = as_list(client.get_service_requests(status="open"))
    assert {r["service_request_id"] for r in open_ones} == set(filed[:2])
    closed = as_list(client.get_service_requests(status="closed"))
    assert [(r["service_request_id"], r["status"]) for r in closed] == [(filed[2], "closed")]
    chosen = as_list(client.get_service_requests(service_request_id=f"{filed[0]},{filed[1]}"))
    assert {r["service_request_id"] for r in chosen} == set(filed[:2])
    now = timezone.now().astimezone(dt.UTC)
    window = {
        "start_date": f"{now - dt.timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}",
        "end_date": f"{now + dt.timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}",
    }
    assert len(as_list(client.get_service_requests(**window))) == len(filed)
    by_service = as_list(client.get_service_requests(service_code="event-0102"))
    assert {r["service_request_id"] for r in by_service} == set(filed[1:])

    one = client.get_service_request(filed[0])
    assert one["service_request_id"] == filed[0] and one["status"] == "open"
    assert one["service_code"] == "event-0101" and one["description"] == "event-0101 测试"
    assert one["requested_datetime"].endswith("+08:00")
