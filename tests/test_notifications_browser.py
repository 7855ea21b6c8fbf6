"""The inbox in the header, in Debian's chromium: a case dispatched to the street office
shows on the street dispatcher's open page as an unread count within seconds (the live
socket's inbox notice), the panel lists it in the user's language, and reading it
clears the count."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, expect
from pytest_django.fixtures import Settings

from incidents.outbox import publisher
from layers.models import Area
from notifications.collect import collect
from tests.browser import log_in, screenshot, servable_passwords
from tests.loop import act, report
from tests.servers import asgi_server
from tests.test_live import layer_config

PREFIX = f"test-inbox-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def server(django_db_setup: None) -> Iterator[str]:
    with asgi_server(CHANNEL_LAYER="core", CHANNEL_LAYER_PREFIX=PREFIX) as url:
        yield url


@pytest.fixture(autouse=True)
def same_channel_layer(settings: Settings) -> None:
    """The notices of this process go where the server's consumers listen."""
    settings.CHANNEL_LAYERS = layer_config("core", PREFIX, settings.REDIS_URL)


def test_the_inbox_shows_a_new_assignment_live_and_clears_when_read(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    servable_passwords()
    page = log_in(browser, server, "street", viewport={"width": 1280, "height": 800})
    page.goto("/map/street/")
    expect(page.locator(".live-status[data-status='open']")).to_be_visible()
    inbox = page.locator("#inbox")
    expect(inbox).to_have_attribute("data-unread", "0")
    expect(inbox.locator(".inbox-count")).to_be_hidden()

    for user in loop.values():  # their password hashes changed (servable, then upgraded
        user.refresh_from_db()  # on signing in): the API's sessions must match them
    reported = report(loop["inspector"], small_city)
    assert reported.status_code == 201, reported.json()
    case_id = int(reported.json()["case"]["id"])
    filed = act(loop["street"], case_id, "file")
    assert filed.status_code == 200, filed.json()
    assert act(loop["street"], case_id, "dispatch").status_code == 200
    collect()
    publisher.flush()

    expect(inbox.locator(".inbox-count")).to_have_text("1", timeout=5000)
    inbox.locator(".inbox-toggle").click()
    item = inbox.locator(".inbox-item.inbox-unread")
    expect(item).to_have_count(1)
    expect(item.locator(".inbox-title")).to_have_text(f"新派遣案件 #{case_id}")
    screenshot(page, "inbox-01-new-assignment")
    item.locator(".inbox-title").click()
    expect(inbox.locator(".inbox-count")).to_be_hidden()
    expect(inbox.locator(".inbox-item.inbox-unread")).to_have_count(0)
    assert loop["street"].notifications.get().read_at is not None
