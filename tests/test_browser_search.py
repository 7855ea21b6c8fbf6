"""案件查询 in Debian's chromium: a street dispatcher searches by text, saves the search,
applies it again after a reload, opens a case's details and downloads the CSV of it."""

from __future__ import annotations

import csv
import io

from django.contrib.auth.models import User
from playwright.sync_api import Browser, expect

from incidents.models import Case
from layers.models import Area
from map_ui.models import SavedFilter
from tests.browser import log_in, screenshot, servable_passwords
from tests.loop import OTHER_STREET_CELL, report


def test_search_save_reapply_after_reload_and_download_csv(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    wanted = report(loop["inspector"], small_city).json()["case"]["id"]
    report(loop["inspector"], small_city)  # same street, other text
    elsewhere = report(loop["admin"], small_city, cell=OTHER_STREET_CELL).json()["case"]["id"]
    Case.objects.filter(pk=wanted).update(description="井盖缺失，行人易跌倒")
    Case.objects.filter(pk=elsewhere).update(description="井盖松动")  # not the street's
    servable_passwords()
    page = log_in(browser, server, "street", viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/map/cases/")
    assert "案件查询" in page.title()
    rows = page.locator("table.results tbody tr")
    expect(rows).to_have_count(2)  # the street's two cases, not the other street's

    page.fill("input[name=q]", "井盖")
    page.click("form.search-form button[type=submit]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-case", str(wanted))

    page.fill("input.filter-name", "井盖问题")
    page.click("button.save-filter")
    expect(page.locator(".saved-list .apply-filter")).to_have_text(["井盖问题"])
    assert SavedFilter.objects.get(user=loop["street"]).query == "q=%E4%BA%95%E7%9B%96"

    page.reload()
    expect(rows).to_have_count(2)  # a fresh page lists everything again
    page.click(".saved-list .apply-filter")
    expect(page.locator("input[name=q]")).to_have_value("井盖")
    expect(rows).to_have_count(1)

    rows.first.click()
    detail = page.locator(".case-detail")
    expect(detail).to_be_visible()
    expect(detail.locator("h3")).to_contain_text(f"#{wanted}")
    expect(detail.locator(".history li").first).to_contain_text("网格员上报")
    # The shared case panel: the street may file, cancel or merge a new report here too.
    expect(detail.locator(".actions button.action-file")).to_be_visible()
    screenshot(page, "search-desktop")

    with page.expect_download() as download:
        page.click("a.export[data-format=csv]")
    content = download.value.path().read_bytes().decode("utf-8")
    table = list(csv.reader(io.StringIO(content.lstrip("\ufeff"))))
    assert table[0][0] == "案件编号"
    assert [row[0] for row in table[1:]] == [str(wanted)]
    assert errors == []
