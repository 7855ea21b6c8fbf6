"""The live map across server processes, on real uvicorn servers: an event caused through
one process reaches a client of another (with either channel layer), and an event its
process could not publish reaches connected clients by the catch-up. Redis outages are
in tests/test_live_faults.py."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings

from incidents.models import Outbox
from incidents.outbox import publisher
from layers.models import Area
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, event_category
from tests.servers import asgi_server
from tests.test_live import (
    committed_report,
    layer_config,
    live,
    server_env,
    session_cookie,
)

CSRF = "c" * 32  # a CSRF secret of the accepted form, sent as cookie and header


def http_report(base_url: str, user: User, city: dict[str, Area]) -> int:
    """An inspector's report through the server at `base_url`, as the phone sends it."""
    point = centre(city[INSPECTOR_CELL])
    body = {
        "client_uuid": str(uuid.uuid4()),
        "category": event_category("0101").pk,
        "description": "路边有一堆暴露垃圾",
        "lon": point.x,
        "lat": point.y,
        "datum": "wgs84",
    }
    request = urllib.request.Request(  # noqa: S310 -- the test's own server
        f"{base_url}/api/cases/reports/",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Cookie": f"{session_cookie(user)}; csrftoken={CSRF}",
            "X-CSRFToken": CSRF,
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        assert response.status == 201
        return int(json.loads(response.read())["case"]["id"])


@pytest.mark.parametrize("layer", ["core", "pubsub"])
def test_an_event_caused_through_one_process_reaches_a_client_of_another(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    settings: Settings,
    layer: str,
) -> None:
    prefix = f"test-live2-{uuid.uuid4().hex[:12]}"
    settings.CHANNEL_LAYERS = layer_config(layer, prefix, settings.REDIS_URL)
    env = server_env(layer, prefix)
    with asgi_server(**env) as one, asgi_server(**env) as other:
        assert one != other
        with live(other, loop["city"]) as city, live(one, loop["inspector"]) as inspector:
            time.sleep(0.3)  # the resumes are answered
            case_id = http_report(one, loop["inspector"], small_city)
            seq = Outbox.objects.get(case_id=case_id).seq
            message = city.next(timeout=10)
            assert (message["type"], message["case"]["id"], message["seq"]) == (
                "event",
                case_id,
                seq,
            )
            assert inspector.next(timeout=10)["seq"] == seq  # and the process's own client


def test_an_event_its_process_could_not_publish_reaches_connected_clients_by_catch_up(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    settings: Settings,
) -> None:
    prefix = f"test-live4-{uuid.uuid4().hex[:12]}"
    env = server_env("core", prefix, LIVE_CATCHUP_SECONDS="1")
    with asgi_server(**env) as server, live(server, loop["city"]) as city:
        # This process cannot reach Redis (nothing listens on port 1); the server can.
        settings.CHANNEL_LAYERS = layer_config("core", prefix, "redis://127.0.0.1:1/0")
        failed = publisher.failed
        case_id = committed_report(loop["inspector"], small_city)
        assert publisher.failed == failed + 1
        message = city.next(timeout=5)  # within a catch-up period or two
        assert (message["case"]["id"], message["kind"]) == (case_id, "case.report")
        assert city.drain(quiet=2.5) == []  # later catch-ups do not send it again
