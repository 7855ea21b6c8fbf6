"""巡查覆盖 on the map, by clicks in Debian's chromium: an inspector walks through two
cells of street 440106001 (5 minutes in one, 1 in the other); the district's command
centre and the street board switch on the layer 巡查覆盖 and see the two cells as dots,
their minutes in the tooltip and the legend counting the visited cells of their area;
switched off, the dots and the legend go."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from django.db import connection
from playwright.sync_api import Browser, expect

from gridmgmt import clock
from layers.models import Area
from patrol.partitions import day_bounds, local_day
from tests.browser import log_in, screenshot, servable_passwords
from tests.test_patrol import OWN, on_duty, send, walk

SECOND = "440106001001002"


@pytest.fixture(autouse=True)
def noon_today() -> Iterator[None]:
    """The server process keeps real time and shows today's coverage. The walk is written
    at noon of the same local day (this process's clock, ticking), so that it lies inside
    the day the server shows, also when the suite runs just after the city's midnight."""
    start, _ = day_bounds(local_day(clock.now()))
    with clock.travel(start + dt.timedelta(hours=12), tick=True):
        yield


@pytest.fixture
def clean_track() -> Iterator[None]:
    """The track is not a model Django flushes (its table is partitioned, unmanaged):
    what this test wrote is removed after it."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM patrol_position")


def test_the_command_centre_and_the_street_board_show_the_days_patrol_coverage(
    transactional_db: None,
    clean_track: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    servable_passwords()
    inspector = User.objects.get(pk=loop["inspector"].pk)  # with the servable password
    start = clock.now() - dt.timedelta(minutes=15)
    duty = on_duty(inspector, start - dt.timedelta(minutes=1))
    assert duty.status_code < 300, duty.json()
    assert send(inspector, walk(small_city[OWN], start, 31)).status_code < 300  # 5 minutes
    later = start + dt.timedelta(minutes=12)  # after a gap longer than MAX_GAP: not counted
    assert send(inspector, walk(small_city[SECOND], later, 7)).status_code < 300  # 1 minute
    for username, path, cells in (("district", "/map/command/", 16), ("street", "/map/street/", 8)):
        page = log_in(browser, server, username, viewport={"width": 1280, "height": 800})
        page.goto(path)
        switch = page.get_by_label("巡查覆盖", exact=True)
        switch.check()
        expect(page.locator("[data-coverage-visited='2']")).to_be_attached()
        dots = page.locator("path.coverage-cell")
        expect(dots).to_have_count(2)
        legend = page.locator(".coverage-legend")
        expect(legend).to_contain_text(f"已巡查 2 / {cells} 个网格")
        expect(legend.locator("span[data-minutes]")).to_have_count(4)
        names = {
            code: Area.objects.get(code=code).name for code in (OWN, SECOND)
        }  # the tooltips name the cells
        texts = []
        for i in range(2):
            dots.nth(i).hover()
            tip = page.locator(".leaflet-tooltip").last
            expect(tip).to_be_visible()
            texts.append(tip.inner_text())
        assert any(names[OWN] in t and "巡查 5 分钟" in t and "1 人" in t for t in texts), texts
        assert any(names[SECOND] in t and "巡查 1 分钟" in t for t in texts), texts
        screenshot(page, f"patrol-coverage-{username}")
        switch.uncheck()
        expect(dots).to_have_count(0)
        expect(legend).to_have_count(0)
        page.context.close()
