"""The decision analysis page in Debian's chromium, by clicks only: the district command
centre opens it from its command centre, chooses March 2025 and a class, sees the trend
chart (Apache ECharts from the project's static files) and the hot-spot layer on the map,
opens a recurring spot on the map and exports the recurring spots as CSV; no script
error, no violation of the Content-Security-Policy. Screenshots: analysis-*.png.
The cases are those of tests/test_analysis.py."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from playwright.sync_api import Browser, expect

from layers.models import Area
from tests.browser import log_in, screenshot, servable_passwords
from tests.cast import CELLS
from tests.test_analysis import build_world

DESKTOP = {"width": 1400, "height": 900}


def test_district_analyses_march_by_clicks_and_exports(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    world = build_world(small_city)
    servable_passwords()
    page = log_in(browser, server, "district", viewport=DESKTOP)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    # From the command centre (the district's landing page) to the analysis page.
    page.get_by_role("link", name="决策分析").click()
    page.wait_for_url("**/map/analysis/")
    expect(page.locator(".status")).to_have_text("")

    form = page.locator("form.analysis-filters")
    form.locator("input[name=start]").fill("2025-03-01")
    form.locator("input[name=last]").fill("2025-03-31")
    form.locator("select[name=major]").select_option(str(world["m1"].pk))
    form.get_by_role("button", name="查询").click()

    # The chart: one point per day of March, drawn on ECharts' canvas.
    chart = page.locator("#trend-chart")
    expect(chart).to_have_attribute("data-points", "31")
    expect(chart.locator("canvas")).to_have_count(1)
    # The hot-spot layer: the district's two cells with class M1 cases (not 越秀's).
    expect(page.locator("path.hotspot")).to_have_count(2)
    expect(page.locator("[data-view=hotspots] .summary")).to_contain_text("2")
    # Recurring spots: the own cell's category A, 3 times within 30 days.
    spots = page.locator("ol.spots li.spot")
    expect(spots).to_have_count(1)
    expect(spots.first).to_contain_text("30")
    screenshot(page, "analysis-district-march")
    spots.first.get_by_role("button", name="在地图上查看").click()
    expect(page.locator(".leaflet-popup-content")).to_contain_text(world["a"].name)

    # A narrower rule: twice within 6 days finds nothing.
    # (A number field reloads its list when it loses focus, as a person leaves it.)
    page.locator("input[name=days]").fill("6")
    page.locator("input[name=times]").fill("2")
    page.locator("input[name=times]").blur()
    expect(page.locator("ol.spots li.muted")).to_have_count(1)
    # Twice within 30 days: also the two of cell 440106001002001, 27 days apart.
    page.locator("input[name=days]").fill("30")
    page.locator("input[name=days]").blur()
    expect(spots).to_have_count(2)

    with page.expect_download() as caught:
        page.locator("a.export[data-view=recurring][data-format=csv]").click()
    download = caught.value
    # The browser takes the RFC 6266 filename*: 反复发生点位_….csv.
    assert download.suggested_filename == "反复发生点位_20250301-20250331.csv"
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    rows: list[Any] = list(csv.reader(io.StringIO(text)))
    assert rows[0][:2] == ["网格编码", "网格"]
    assert [row[0] for row in rows[1:]] == [CELLS["own"], "440106001002001"]

    page.locator("select[name=step]").select_option("week")
    expect(chart).to_have_attribute("data-points", "6")
    screenshot(page, "analysis-district-weeks")
    violations = page.evaluate("() => window.__cspViolations || []")
    assert problems == [] and violations == []
