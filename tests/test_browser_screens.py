"""Every role's page in Debian's chromium, at desktop and at phone size, opened by a demo
user whose page it is: it renders without a script error, fits the phone's width without
sideways scrolling, and leaves a screenshot in test-output/screenshots/ (screens-*.png)
for whoever reviews the interface."""

from __future__ import annotations

import contextlib

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from playwright.sync_api import Browser
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from map_ui.pages.roles import PAGES
from tests.browser import log_in, screenshot, servable_passwords
from tests.cast import opener

SIZES = {
    "desktop": {"viewport": {"width": 1400, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("name", [page.name for page in PAGES])
def test_each_role_page_renders_at_desktop_and_phone_size(
    transactional_db: None,
    loop: dict[str, User],
    browser: Browser,
    server: str,
    name: str,
    size: str,
) -> None:
    servable_passwords()
    page_of = next(page for page in PAGES if page.name == name)
    username = opener(page_of.roles)
    page = log_in(browser, server, username, **SIZES[size])  # type: ignore[arg-type]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    response = page.goto(reverse(f"map_ui:{name}"))
    assert response is not None and response.status == 200
    with contextlib.suppress(PlaywrightTimeoutError):  # a live page keeps a socket open
        page.wait_for_load_state("networkidle", timeout=5000)
    screenshot(page, f"screens-{name}-{size}")
    assert errors == []
    assert str(page_of.title) in page.title() or page.locator("h1").count() > 0
    if size == "phone":
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name} scrolls sideways by {overflow} px on a phone"
