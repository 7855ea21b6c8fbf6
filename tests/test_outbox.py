"""Live events: sent to the channel layer (Redis) after commit, in sequence order, to the
groups of the case's areas, units and followers; saved in the outbox even when Redis is
down, so that clients can catch up from it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.contrib.auth.models import User
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks, Settings

from incidents.models import Case, Outbox
from incidents.outbox import CITY_GROUP, publisher
from layers.models import Area
from tests.loop import INSPECTOR_CELL, act, report


@pytest.fixture(autouse=True)
def own_channel_layer(settings: Settings) -> None:
    """Groups of this test only: a running server on the same Redis sends to groups of
    the same names."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [settings.REDIS_URL], "prefix": f"test-{uuid.uuid4().hex}"},
        }
    }


def listen(groups: list[str], action: Any) -> list[dict[str, Any]]:
    """Join `groups` on a fresh channel, run `action` (which commits case changes), wait
    for the publisher, and return the events the channel received, in order."""
    layer = get_channel_layer()
    assert layer is not None

    async def join() -> str:
        channel = await layer.new_channel()
        for group in groups:
            await layer.group_add(group, channel)
        return channel

    async def drain(channel: str) -> list[dict[str, Any]]:
        received = []
        try:
            while True:
                message = await asyncio.wait_for(layer.receive(channel), timeout=1)
                received.append(message["event"])
        except TimeoutError:
            return received
        finally:
            for group in groups:
                await layer.group_discard(group, channel)

    channel = asyncio.run(join())
    action()
    publisher.flush()
    return asyncio.run(drain(channel))


def test_committed_changes_reach_the_groups_in_sequence(
    loop: dict[str, User],
    small_city: dict[str, Area],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    cell = small_city[INSPECTOR_CELL]
    sent_before = publisher.sent

    def report_and_file() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            case_id = report(loop["inspector"], small_city).json()["case"]["id"]
        with django_capture_on_commit_callbacks(execute=True):
            assert act(loop["street"], case_id, "file").status_code == 200

    events = listen([f"cases.area.{cell.pk}"], report_and_file)
    case = Case.objects.get()
    outbox = list(Outbox.objects.filter(case=case).order_by("seq"))
    assert [e["kind"] for e in events] == ["case.report", "case.file"]
    assert [e["seq"] for e in events] == [o.seq for o in outbox]
    assert events[1]["seq"] == events[0]["seq"] + 1
    assert events[1]["case"]["id"] == case.pk and events[1]["case"]["state"] == "filed"
    assert publisher.sent >= sent_before + 2


def test_a_change_inside_a_rolled_back_transaction_sends_nothing(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    # Without executing the on-commit callbacks (the test's transaction never commits),
    # the event is in the outbox table of this transaction but never published.
    events = listen([CITY_GROUP], lambda: report(loop["inspector"], small_city))
    assert events == []
    assert Outbox.objects.count() == 1


def test_with_redis_down_the_change_is_saved_and_the_event_waits_in_the_outbox(
    loop: dict[str, User],
    small_city: dict[str, Area],
    settings: Settings,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    # Nothing listens on port 1: every connection to "Redis" is refused.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    failed_before = publisher.failed
    with django_capture_on_commit_callbacks(execute=True):
        response = report(loop["inspector"], small_city)
    publisher.flush()
    assert response.status_code == 201, response.json()
    case = Case.objects.get(pk=response.json()["case"]["id"])
    assert case.state == "reported"
    event = Outbox.objects.get(case=case)
    assert event.payload["kind"] == "case.report" and event.payload["seq"] == event.seq
    assert publisher.failed == failed_before + 1
