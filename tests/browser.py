"""Browser tests: Playwright for Python driving Debian's chromium, headless.

`playwright install` downloads a browser, which this project's machines cannot do; the
tests launch the system's chromium by its path instead (CHROMIUM_PATH, default the one
on PATH). A missing browser fails the tests: it is never a reason to skip them.
Screenshots of each page go to test-output/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User
from django.db import connection
from playwright.sync_api import Browser, Page, expect, sync_playwright

from layers.models import Area
from tests.cast import centre
from tests.loop import INSPECTOR_CELL
from tests.servers import asgi_server

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "test-output" / "screenshots"
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"
PASSWORD = "gridmgmt-demo"  # what create_demo_users gives the cast
DESKTOP = {"width": 1400, "height": 900}

# Chromium in a sandboxless container, with no network beyond loopback: no first-run
# pages, no background connections to Google's services (they would be refused).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# The page's config and Leaflet map, for scripts given to page.evaluate(): the page's ES
# modules keep nothing in globals; the map is the folium script's variable, which the
# config names. `$config` and `$map` in a script passed through on_page() stand for them.
PAGE_CONFIG = "JSON.parse(document.getElementById('page-config').textContent)"
PAGE_MAP = f"window[{PAGE_CONFIG}.map]"


def on_page(script: str) -> str:
    """`script` with `$map` (the page's Leaflet map) and `$config` (its page config)."""
    return script.replace("$map", PAGE_MAP).replace("$config", PAGE_CONFIG)


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not path:
        raise RuntimeError("chromium is not installed: run `make test` (it installs it)")
    return path


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Chromium for the tests of one module. Not for the whole session: Playwright's sync
    API keeps an event loop running in this thread while it is started, and later tests
    that run asyncio themselves (the channel layer's) must not find it."""
    # Django's ORM refuses to run in a thread with a running event loop unless told it
    # is safe, which it is here: the test does not share that loop, it only waits for
    # the browser between its own steps.
    before = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
            )
            yield launched
            launched.close()
    finally:
        if before is None:
            del os.environ[ASYNC_UNSAFE]
        else:
            os.environ[ASYNC_UNSAFE] = before


@pytest.fixture
def browser(transactional_db: None, chromium: Browser) -> Iterator[Browser]:
    """The module's chromium for one test. Afterwards its pages are closed and the
    server's requests are let finish before the database is emptied for the next test:
    a page left open keeps asking (live socket, queues, map overlays), and a request
    still in its transaction while the flush's TRUNCATE takes its locks deadlocks it."""
    yield chromium
    for context in chromium.contexts:
        context.close()
    _wait_until_the_server_is_idle()


def _wait_until_the_server_is_idle(seconds: float = 15) -> None:
    """Wait until no other connection to the test database is running a statement or
    holds a transaction open (the server's pooled connections go back to idle)."""
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
            if cursor.fetchone()[0] == 0 or time.monotonic() > deadline:
                return
            time.sleep(0.05)


@pytest.fixture(scope="module")
def server(django_db_setup: None) -> Iterator[str]:
    """The project served by uvicorn on the test database, with a channel-layer prefix
    of its own (suites running at the same time on one Redis do not mix)."""
    with asgi_server(CHANNEL_LAYER_PREFIX=f"test-browser-{uuid.uuid4().hex[:8]}") as url:
        yield url


def servable_passwords() -> None:
    """Give every user a password hash the server process can check. The tests hash with
    MD5 for speed (tests/conftest.py); the server, with the project's settings, does not
    accept MD5. PBKDF2 with few iterations is accepted and still quick."""
    hashed = PBKDF2PasswordHasher().encode(PASSWORD, "browsertests", iterations=1000)
    User.objects.update(password=hashed)


def log_in(browser: Browser, base_url: str, username: str, **context: object) -> Page:
    """A new browser context (its own cookies and storage) logged in as `username`."""
    page = browser.new_context(base_url=base_url, locale="zh-CN", **context).new_page()  # type: ignore[arg-type]
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/map/**")
    return page


def live_page(browser: Browser, base_url: str, username: str, path: str, **context: object) -> Page:
    """`username` logged in (at desktop size unless `context` says otherwise) on the role
    page at `path`, once its live socket is open: from then on, what others do reaches it."""
    page = log_in(browser, base_url, username, **{"viewport": DESKTOP, **context})
    page.goto(path)
    expect(page.locator(".live-status[data-status='open']")).to_be_visible()
    return page


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def inspector_page(browser: Browser, server: str, small_city: dict[str, Area]) -> Page:
    """The inspector's phone page on a phone-sized screen, located in their own cell."""
    here = centre(small_city[INSPECTOR_CELL])
    page = log_in(
        browser,
        server,
        "inspector",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": here.y, "longitude": here.x, "accuracy": 8},
        permissions=["geolocation"],
    )
    page.goto("/map/inspector/")
    expect(page.locator("#gps.ok")).to_be_visible()
    return page
