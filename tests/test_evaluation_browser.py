"""The evaluation page's per-cell table by clicks in Debian's chromium: only the cells
with cases this month, a page at a time; the pages here are of two rows (the page's
request is rewritten to page_size=2; the next link the API gives keeps it)."""

from __future__ import annotations

import datetime as dt
import io

from django.contrib.auth.models import User
from django.core.management import call_command
from playwright.sync_api import Browser, Route, expect

from gridmgmt import clock
from layers.models import Area, Category
from tests.browser import DESKTOP, log_in, screenshot, servable_passwords
from tests.cast import CELLS
from tests.test_analysis_daily import make_case


def test_the_evaluation_page_pages_the_cells_with_cases(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    servable_passwords()
    call_command("loaddata", "catalogue", stdout=io.StringIO())
    category = Category.objects.filter(kind="event").exclude(minor_code="").order_by("pk")[0]
    # A few minutes ago, but not before this month began (city time): the page shows this
    # month's cases.
    now = clock.now()
    month_began = clock.localtime(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    created_at = max(now - dt.timedelta(minutes=5), month_began)
    codes = [CELLS["own"], CELLS["street"], CELLS["other_street"]]
    for code in codes:
        make_case(small_city, code, category, created_at=created_at)
    page = log_in(browser, server, "district", viewport=DESKTOP)

    def two_a_page(route: Route) -> None:
        route.continue_(url=route.request.url.replace("page_size=50", "page_size=2"))

    page.route("**/api/evaluation/cell/**", two_a_page)
    page.goto("/map/evaluation/")
    rows = page.locator(".cell-table tbody tr")
    status = page.locator(".pager .page-status")
    expect(status).to_have_text("第 1 / 2 页，共 3 个网格")
    expect(rows).to_have_count(2)
    first = [rows.nth(i).get_attribute("data-code") for i in range(2)]
    assert first == sorted(codes)[:2]
    expect(page.locator(".pager .previous")).to_be_disabled()
    page.click(".pager .next")
    expect(status).to_have_text("第 2 / 2 页，共 3 个网格")
    expect(rows).to_have_count(1)
    assert rows.first.get_attribute("data-code") == sorted(codes)[2]
    expect(page.locator(".pager .next")).to_be_disabled()
    screenshot(page, "evaluation-cells-page-2")
    page.click(".pager .previous")
    expect(status).to_have_text("第 1 / 2 页，共 3 个网格")
    expect(rows).to_have_count(2)
    page.context.close()
