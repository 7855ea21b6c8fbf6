"""The simulated city in Debian's chromium: two days of history (simulate_city, up to the
present hour) on the small test city, then the command centre, the street board, the
evaluation and the decision analysis pages, each showing non-zero figures, without a
script error. Screenshots: test-output/screenshots/simulated-*.png."""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect

from incidents.models import Case, State
from simulation.engine import simulate_city
from tests.browser import live_page, log_in, screenshot, servable_passwords

DESKTOP = {"width": 1400, "height": 900}
NONZERO = re.compile(r"^\s*[1-9]\d*\s*$")


def _watch(page: Page) -> list[str]:
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    return problems


def test_the_simulated_city_fills_the_pages(
    transactional_db: None, loop: dict[str, User], browser: Browser, server: str
) -> None:
    summary = simulate_city(days=2, seed=7, scale=0.03, progress=False)
    assert summary.refused == 0 and summary.arrived > 40
    open_cases = Case.objects.exclude(state__in=[State.CLOSED, State.CANCELLED, State.MERGED])
    assert open_cases.exists()
    servable_passwords()

    # The city's command centre: its live counters of open and overdue cases.
    command = live_page(browser, server, "city", "/map/command/")
    problems = _watch(command)
    expect(command.locator("dd[data-counter='open']")).to_have_text(NONZERO)
    screenshot(command, "simulated-command")

    # The street board: the demo street's own open cases (its inspectors' cells are
    # among the simulated hot spots).
    street = live_page(browser, server, "street", "/map/street/")
    problems += _watch(street)
    expect(street.locator("dd[data-counter='open']")).to_have_text(NONZERO)
    screenshot(street, "simulated-street")

    # Evaluation (this month, per street): cases were due, some closed.
    evaluation = log_in(browser, server, "district", viewport=DESKTOP)
    problems += _watch(evaluation)
    evaluation.goto("/map/evaluation/")
    total = evaluation.locator(".evaluation-table tfoot tr")
    expect(total.locator("[data-key='due']")).to_have_text(NONZERO)
    expect(total.locator("[data-key='closed']")).to_have_text(NONZERO)
    screenshot(evaluation, "simulated-evaluation")

    # Decision analysis (the last 30 days): hot spots with cases, a trend, categories.
    analysis = log_in(browser, server, "city", viewport=DESKTOP)
    problems += _watch(analysis)
    analysis.goto("/map/analysis/")
    hotspots = analysis.locator("[data-view=hotspots] .summary")
    expect(hotspots).to_have_text(re.compile(r"[1-9]"))
    expect(analysis.locator("path.hotspot").first).to_be_attached()
    expect(analysis.locator("#trend-chart canvas")).to_have_count(1)
    expect(analysis.locator("[data-view=categories] tbody tr").first).to_be_attached()
    screenshot(analysis, "simulated-analysis")
    assert problems == []
