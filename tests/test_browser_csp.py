"""The Content-Security-Policy in Debian's chromium: every role page, the admin (with its
map widget) and Swagger UI work under the policy the server sends, and the browser
reports no violation of it (neither as a securitypolicyviolation event nor in the
console)."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from layers.models import Area, Tier
from tests.browser import PASSWORD, inspector_page, log_in, screenshot, servable_passwords

DESKTOP = {"width": 1400, "height": 900}
# Each role page, opened by a user whose page it is.
ROLE_PAGES = [
    ("city", "/map/command/"),
    ("street", "/map/street/"),
    ("hotline", "/map/hotline/"),
    ("city", "/map/evaluation/"),
]
# Every violation the page reports, collected before any of its own scripts run.
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


def watch(page: Page) -> list[str]:
    """Console messages about the policy and uncaught errors (the list fills as the
    page runs); violation events are read from the page with violations()."""
    seen: list[str] = []

    def console(message: Any) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            seen.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: seen.append(f"pageerror: {error}"))
    page.add_init_script(WATCH_VIOLATIONS)
    return seen


def violations(page: Page) -> list[str]:
    return list(page.evaluate("() => window.__cspViolations || []"))


def settle(page: Page) -> None:
    # A live page may keep a request open: then it has settled after the timeout.
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_load_state("networkidle", timeout=5000)


@pytest.mark.parametrize(("username", "path"), ROLE_PAGES)
def test_role_pages_work_under_the_policy_without_violations(
    transactional_db: None,
    loop: dict[str, User],
    browser: Browser,
    server: str,
    username: str,
    path: str,
) -> None:
    servable_passwords()
    page = log_in(browser, server, username, viewport=DESKTOP)
    seen = watch(page)
    response = page.goto(path)
    assert response is not None
    assert "script-src 'self' 'nonce-" in response.headers["content-security-policy"]
    # The map was built by the nonced inline script, and the page's modules ran (the
    # legend is drawn by mapkit.js, which every page's entry module imports).
    expect(page.locator(".leaflet-container")).to_be_visible()
    expect(page.locator(".leaflet-container [data-legend] li").first).to_be_attached()
    settle(page)
    screenshot(page, f"csp-{path.strip('/').replace('/', '-')}")
    assert violations(page) == [] and seen == []


def test_the_inspector_page_and_its_service_worker_work_under_the_policy(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    servable_passwords()
    page = inspector_page(browser, server, small_city)
    seen = watch(page)
    page.reload()
    expect(page.locator("#gps.ok")).to_be_visible()
    settle(page)
    assert page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    assert violations(page) == [] and seen == []


def test_the_admin_map_widget_and_swagger_ui_work_under_the_policy(
    transactional_db: None,
    cast: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    servable_passwords()
    page = browser.new_context(base_url=server, viewport=DESKTOP).new_page()  # type: ignore[arg-type]
    seen = watch(page)
    page.goto("/admin/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()
    street = Area.objects.filter(tier=Tier.STREET).order_by("code").first()
    assert street is not None
    page.goto(f"/admin/layers/area/{street.pk}/change/")
    # Django's OpenLayers widget, started by its inline script, draws the outline.
    expect(page.locator(".ol-viewport")).to_be_visible()
    settle(page)
    assert violations(page) == [] and seen == []

    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .information-container")).to_contain_text("gridmgmt API")
    settle(page)
    assert violations(page) == [] and seen == []
