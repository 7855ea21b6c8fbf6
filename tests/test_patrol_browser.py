"""巡查 by clicks in Debian's chromium: the inspector goes on duty on the phone page, the
phone's fixes reach the track in batches, the district's command centre shows the
inspector on duty on its map; with the network gone the 下岗 and the last fixes wait on
the phone and are sent once it is back. Every step is checked in the database."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import User
from django.db import connection
from playwright.sync_api import Browser, Page, expect

from layers.models import Area
from patrol.models import Shift
from tests.browser import inspector_page, log_in, screenshot, servable_passwords
from tests.cast import centre
from tests.loop import INSPECTOR_CELL


def eventually(check: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.25)


def fixes(user: User) -> list[tuple[float, float]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_X(geom), ST_Y(geom) FROM patrol_position WHERE user_id = %s ORDER BY at",
            [user.pk],
        )
        return cursor.fetchall()


@pytest.fixture
def clean_track() -> Iterator[None]:
    """The track is not a model Django flushes (its table is partitioned, unmanaged):
    what this test wrote is removed after it."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM patrol_position")


def offline(page: Page) -> None:
    page.route("**/api/patrol/**", lambda route: route.abort("internetdisconnected"))


def test_the_inspector_patrols_and_the_district_sees_them_and_offline_nothing_is_lost(
    transactional_db: None,
    clean_track: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    servable_passwords()
    inspector = loop["inspector"]
    page = inspector_page(browser, server, small_city)
    toggle = page.locator("#duty-toggle")
    expect(toggle).to_have_text("上岗")
    toggle.click()
    expect(page.locator("body[data-on-duty='true']")).to_be_attached()
    expect(toggle).to_have_text("下岗")
    eventually(lambda: Shift.objects.filter(user=inspector, ended_at__isnull=True).exists())
    eventually(lambda: len(fixes(inspector)) >= 1)
    here = centre(small_city[INSPECTOR_CELL])
    x, y = fixes(inspector)[0]
    assert abs(x - here.x) < 1e-6 and abs(y - here.y) < 1e-6
    screenshot(page, "patrol-on-duty")

    district = log_in(browser, server, "district", viewport={"width": 1280, "height": 800})
    district.goto("/map/command/")
    district.get_by_label("在岗网格员").check()
    expect(district.locator("[data-on-duty='1']")).to_be_attached()
    expect(district.locator("path.on-duty")).to_have_count(1)
    screenshot(district, "patrol-command-on-duty")
    district.context.close()

    offline(page)  # the network is gone: a moved fix and the 下岗 wait on the phone
    moved = (here.x + 0.002, here.y + 0.001)
    page.context.set_geolocation({"latitude": moved[1], "longitude": moved[0], "accuracy": 5})
    page.click("#gps-refresh")
    expect(page.locator("#gps.ok")).to_be_visible()
    toggle.click()
    expect(toggle).to_have_text("上岗")
    expect(page.locator("#duty-status")).to_contain_text("待发送")
    page.wait_for_timeout(1000)
    assert Shift.objects.get(user=inspector).ended_at is None
    page.unroute("**/api/patrol/**")
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    eventually(lambda: Shift.objects.get(user=inspector).ended_at is not None)
    track = fixes(inspector)
    assert any(abs(x - moved[0]) < 1e-6 and abs(y - moved[1]) < 1e-6 for x, y in track)
    shift = Shift.objects.get(user=inspector)
    assert shift.last_at is not None and shift.ended_at is not None
    assert shift.ended_at >= shift.last_at
    expect(page.locator("#duty-status")).not_to_contain_text("待发送")
    page.context.close()
