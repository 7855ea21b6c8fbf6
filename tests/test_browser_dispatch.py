"""The live loop in Debian's chromium: an inspector reports from the phone page inside the
street dispatcher's street; the dispatcher's queue and map show it within 2 s without a
reload; the dispatcher signs it from the board; the command centre shows the change
live. Then the evaluation page: its table, its choropleth and an export."""

from __future__ import annotations

import time

from django.contrib.auth.models import User
from playwright.sync_api import Browser, FilePayload, Page, expect

from incidents.models import Case, State
from layers.models import Area
from tests.browser import (
    DESKTOP,
    inspector_page,
    live_page,
    log_in,
    screenshot,
    servable_passwords,
)
from tests.loop import PNG, event_category

LIVE_WITHIN_MS = 2000  # the promise: a new report is on the board within 2 s


def board_page(browser: Browser, server: str, username: str, path: str) -> Page:
    page = live_page(browser, server, username, path)
    # Set on this document only: still there at the end means the page never reloaded.
    page.evaluate("window.loadedOnce = true")
    return page


def test_a_report_reaches_the_street_board_live_and_signing_it_reaches_the_command_map(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    servable_passwords()
    street = board_page(browser, server, "street", "/map/street/")
    command = board_page(browser, server, "city", "/map/command/")
    # 街面秩序 reported by an inspector is dispatched to the street office at once (the
    # demo routing rules): it lands in the street's "to sign" queue.
    street.click("[data-queue='to_sign']")
    expect(street.locator("[data-queue-count='to_sign']")).to_have_text("0")

    inspector = inspector_page(browser, server, small_city)
    inspector.select_option("#category", str(event_category("0501").pk))
    inspector.fill("#description", "人行道上有流动摊贩占道经营")
    site = FilePayload(name="site.png", mimeType="image/png", buffer=PNG)
    inspector.set_input_files("#photos", files=[site])
    expect(inspector.locator("#thumbs img")).to_have_count(1)
    started = time.monotonic()
    inspector.click("#submit-report")

    # On the street's board within 2 s of pressing 上报, without a reload.
    row = street.locator(".queue .case-row")
    expect(row).to_have_count(1, timeout=LIVE_WITHIN_MS)
    case_id = int(row.get_attribute("data-case") or 0)
    marker = street.locator(f".case-marker[data-case='{case_id}']")
    expect(marker).to_have_count(1, timeout=max(1, LIVE_WITHIN_MS - _ms_since(started)))
    assert _ms_since(started) <= LIVE_WITHIN_MS
    expect(row).to_have_attribute("data-state", State.DISPATCHED)
    expect(street.locator("[data-queue-count='to_sign']")).to_have_text("1")
    sent = inspector.locator(f"#reports li[data-case-id='{case_id}'][data-state='sent']")
    expect(sent).to_be_visible()
    case = Case.objects.get(pk=case_id)
    assert (case.reporter, case.street.code, case.state) == (
        loop["inspector"],
        "440106001",
        State.DISPATCHED,
    )
    # The command centre saw it arrive, too.
    feed = command.locator(f".feed li[data-case='{case_id}']")
    expect(feed).to_have_attribute("data-state", State.DISPATCHED)

    # The dispatcher signs it from the board.
    row.click()
    expect(street.locator(f".case-detail[data-case='{case_id}']")).to_be_visible()
    street.click(".case-detail button[data-action='sign']")
    expect(street.locator(".notice.done")).to_contain_text(f"#{case_id}")
    expect(street.locator(".case-detail")).to_have_attribute("data-state", State.SIGNED)
    expect(street.locator(".case-detail .history")).to_contain_text("处置中")
    case.refresh_from_db()
    assert case.state == State.SIGNED
    # It left "to sign" for "in progress"; the marker carries the new state.
    expect(street.locator("[data-queue-count='to_sign']")).to_have_text("0")
    expect(street.locator("[data-queue-count='in_progress']")).to_have_text("1")
    expect(marker).to_have_attribute("data-state", State.SIGNED)
    screenshot(street, "street-board")

    # The command centre shows the change live: its feed, its live marker, the history.
    expect(feed).to_have_attribute("data-state", State.SIGNED)
    expect(feed.locator(".state")).to_have_text("处置中")
    live_marker = command.locator(f".case-marker[data-case='{case_id}']")
    expect(live_marker).to_have_attribute("data-state", State.SIGNED)
    expect(command.locator("[data-counter='new_today']")).to_have_text("1")
    expect(command.locator("[data-counter='open']")).to_have_text("1")
    feed.locator("a").click()
    history = command.locator(f".case-detail[data-case='{case_id}'] .history li")
    expect(history.last).to_contain_text("处置中")
    screenshot(command, "command-centre")

    for page in (street, command):
        assert page.evaluate("window.loadedOnce") is True, "the page was reloaded"
        page.context.close()
    inspector.context.close()


def test_the_evaluation_page_shows_the_streets_and_exports_them(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    servable_passwords()
    page = log_in(browser, server, "district", viewport=DESKTOP)
    page.goto("/map/evaluation/")
    # No case is due this month in the fresh test city: each of the district's streets
    # has its row all the same, and they and the total read zero and no rate (a rate
    # over nothing is empty, never 0%).
    rows = page.locator(".evaluation-table tbody tr")
    expect(rows).to_have_count(2)
    assert [rows.nth(i).get_attribute("data-code") for i in range(2)] == [
        "440106001",
        "440106002",
    ]
    expect(rows.locator("[data-key='on_time_rate']")).to_have_text(["–", "–"])
    total = page.locator(".evaluation-table tfoot tr")
    expect(total.locator("[data-key='due']")).to_have_text("0")
    expect(total.locator("[data-key='on_time_rate']")).to_have_text("–")
    start = page.input_value("input[name=start]")
    assert start.endswith("-01")
    csv = page.locator("a.export[data-format='csv']")
    expect(csv).to_have_attribute(
        "href", f"/api/evaluation/street/?start={start}&end=" + _end(page)
    )
    # The choropleth: one outline per street of the district, on the map's canvas.
    assert page.evaluate(
        "(() => { const c = JSON.parse(document.getElementById('page-config').textContent);"
        " return window[c.outlines].getLayers().map(l => l.feature.properties.code).sort(); })()"
    ) == ["440106001", "440106002"]
    with page.expect_download() as download:
        csv.click()
    # Named for the period (the browser takes the RFC 6266 filename*: 案件评价_街道_….csv).
    first, last = start.replace("-", ""), page.input_value("input[name=last]").replace("-", "")
    assert download.value.suggested_filename.endswith(f"_{first}-{last}.csv")
    assert download.value.path().read_bytes().startswith("\ufeff".encode())  # Excel's BOM
    # A month picked in the picker asks for that month.
    page.fill("input[name=month]", "2026-02")
    page.dispatch_event("input[name=month]", "change")
    expect(page.locator("input[name=last]")).to_have_value("2026-02-28")
    expect(csv).to_have_attribute(
        "href", "/api/evaluation/street/?start=2026-02-01&end=2026-03-01&format=csv"
    )
    screenshot(page, "evaluation")
    page.context.close()


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _end(page: Page) -> str:
    last = page.input_value("input[name=last]")
    following = page.evaluate(
        "(last) => { const d = new Date(last + 'T00:00:00Z');"
        " d.setUTCDate(d.getUTCDate() + 1); return d.toISOString().slice(0, 10); }",
        last,
    )
    return f"{following}&format=csv"


# live.js is an ES module: the test imports it as the pages do.
OPEN_LIVE = """async ([url, tokenUrl]) => {
  const { connect } = await import("/static/map_ui/live.js");
  return await new Promise((resolve) => {
    const seen = [];
    connect({
      url, tokenUrl, onEvent() {}, onReload() {},
      onStatus(status) {
        seen.push(status);
        if (status === "open" || status === "denied") resolve(seen.join(" "));
      },
    });
  });
}"""


def test_live_js_opens_the_socket_with_a_token_where_the_cookie_does_not_go(
    transactional_db: None, loop: dict[str, User], browser: Browser, server: str
) -> None:
    # The page is on 127.0.0.1; its session cookie is not sent to localhost. So the
    # socket at localhost opens only with the token the page offers as a subprotocol.
    servable_passwords()
    page = board_page(browser, server, "city", "/map/command/")
    elsewhere = server.replace("http://127.0.0.1", "ws://localhost") + "/ws/live/"
    assert elsewhere.startswith("ws://localhost:")
    assert page.evaluate(OPEN_LIVE, [elsewhere, None]) == "connecting denied"
    assert page.evaluate(OPEN_LIVE, [elsewhere, "/map/live/token/"]) == "connecting open"
