"""The intake pages in Debian's chromium: the hotline finds a misspelled address, shows
its candidates and the likely duplicates, and files a ticket; the inspector's phone page
queues a report while offline and sends it once when back online, and a report whose
answer was lost is sent again with the same client UUID and still makes one case."""

from __future__ import annotations

import struct
import uuid
import zlib
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Dialog, FilePayload, Page, Route, expect

from incidents.models import Case, Source, State
from layers.models import Address, Area
from tests.browser import (
    inspector_page,
    log_in,
    on_page,
    screenshot,
    servable_passwords,
)
from tests.cast import CELLS, centre
from tests.loop import INSPECTOR_CELL, PNG, act, event_category, photo, report
from tests.servers import asgi_server, free_port

# Standard addresses of the small test city (as in tests/test_geocoding.py).
REGISTER = [
    ("广州市天河区华景路123号华景新城5栋", "own"),
    ("广州市天河区华景路123号华景新城6栋", "own"),
    ("广州市天河区华景路125号", "own"),
    ("广州市天河区同和路8号", "street"),
    ("广州市越秀区解放北路300号", "other_district"),
]
WANTED = "广州市天河区华景路123号华景新城6栋"
MISSPELLED = "华井路123号华景新城6号楼"  # a homophone of the road, 号楼 for 栋, no district


@pytest.fixture
def register(small_city: dict[str, Area]) -> dict[str, Address]:
    return {
        text: Address.objects.create(code=f"A{n}", text=text, geom=centre(small_city[CELLS[key]]))
        for n, (text, key) in enumerate(REGISTER)
    }


def test_the_hotline_finds_a_misspelled_address_and_files_a_ticket_there(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    register: dict[str, Address],
    browser: Browser,
    server: str,
) -> None:
    # An open case of exposed garbage at the very place the caller will name.
    earlier = report(loop["inspector"], small_city, category="0101")
    assert earlier.status_code == 201
    earlier_id = earlier.json()["case"]["id"]
    servable_passwords()
    page = log_in(browser, server, "hotline", viewport={"width": 1400, "height": 900})
    outside = watch_hosts(page, server)
    page.goto("/map/hotline/")

    page.fill("#address-text", MISSPELLED)
    candidates = page.locator("#candidates li")
    expect(candidates.first).to_contain_text(WANTED)
    count = candidates.count()
    assert count >= 2
    # The ranked candidates are on the map too, numbered as in the list.
    markers = page.locator(".candidate-icon")
    expect(markers).to_have_count(count)
    assert markers.first.inner_text() == "1"

    page.click(f"#candidates button:has-text('{WANTED}')")
    expect(page.locator("#place")).to_contain_text(WANTED)
    expect(page.locator(".leaflet-marker-draggable")).to_have_count(1)

    garbage = event_category("0101")
    page.select_option("#category", str(garbage.pk))
    expect(page.locator(f"#duplicates li[data-case-id='{earlier_id}']")).to_be_visible()
    page.fill("#description", "小区门口垃圾两天没人清运")
    page.fill("#caller-name", "陈女士")
    page.fill("#caller-phone", "13812345678")
    screenshot(page, "hotline")

    page.click("#submit-ticket")
    filed = page.locator("#result [data-case-id]")
    expect(filed).to_be_visible()
    case = Case.objects.get(pk=int(filed.get_attribute("data-case-id") or 0))
    address = register[WANTED]
    assert (case.source, case.channel, case.category_id) == (Source.HOTLINE, "phone", garbage.pk)
    assert case.address_id == address.pk and case.address_text == MISSPELLED
    assert case.geom.equals_exact(address.geom, 1e-9) and case.cell.code == INSPECTOR_CELL
    assert (case.caller_name, case.caller_phone) == ("陈女士", "13812345678")
    assert case.reporter == loop["hotline"] and case.pk != earlier_id
    # The form is empty again, ready for the next call.
    expect(page.locator("#address-text")).to_have_value("")
    assert outside == []
    page.context.close()


def test_the_hotline_files_a_ticket_at_a_point_picked_on_the_map(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    servable_passwords()
    page = log_in(browser, server, "hotline", viewport={"width": 1400, "height": 900})
    page.goto("/map/hotline/")
    target = centre(small_city[INSPECTOR_CELL])
    # Centre the map on the cell, then click the middle of the map (once the page's own
    # zoom to the user's area has ended: its animation would move the map again).
    page.wait_for_function(on_page("() => !$map._animatingZoom"))
    page.evaluate(
        on_page("([lat, lon]) => $map.setView([lat, lon], 17, {animate: false})"),
        [target.y, target.x],
    )
    page.locator(".folium-map").click()
    expect(page.locator("#place")).to_contain_text("113.")
    clicked = pin_at(page)
    assert abs(clicked[0] - target.x) < 0.0005 and abs(clicked[1] - target.y) < 0.0005
    # Drag the pin 80 px right and 60 px down: the ticket moves with it.
    box = page.locator(".leaflet-marker-draggable").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 40, y + 30, steps=5)
    page.mouse.move(x + 80, y + 60, steps=5)
    page.mouse.up()
    expect(page.locator("#place")).not_to_contain_text(f"{clicked[0]:.6f}")
    pin = pin_at(page)
    assert pin[0] > clicked[0] + 0.0003 and pin[1] < clicked[1] - 0.0002  # east, south
    page.fill("#address-text", "华景路口东侧绿化带旁")
    page.select_option("#category", str(event_category("0101").pk))
    page.fill("#description", "绿化带旁有垃圾")
    page.click("#submit-ticket")
    filed = page.locator("#result [data-case-id]")
    expect(filed).to_be_visible()
    case = Case.objects.get(pk=int(filed.get_attribute("data-case-id") or 0))
    assert case.address is None and case.datum == "wgs84"
    assert abs(case.geom.x - pin[0]) < 1e-9 and abs(case.geom.y - pin[1]) < 1e-9
    page.context.close()


def watch_hosts(page: Page, server: str) -> list[str]:
    """The requests the page makes to any other host (the list fills as the page runs)."""
    host = urlsplit(server).netloc
    outside: list[str] = []

    def check(url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"data", "blob"} and parts.netloc != host:
            outside.append(url)

    page.on("request", lambda request: check(request.url))
    page.on("websocket", lambda socket: check(socket.url))
    return outside


def pin_at(page: Page) -> tuple[float, float]:
    """Longitude and latitude of the hotline page's draggable pin."""
    lon, lat = page.evaluate(
        on_page(
            "() => { let p = null; $map.eachLayer(l => {"
            " if (l.dragging && l.options.draggable) p = l.getLatLng(); });"
            " return [p.lng, p.lat]; }"
        )
    )
    return float(lon), float(lat)


def handled_case_for(loop: dict[str, User], small_city: dict[str, Area]) -> int:
    """A case the inspector reported and the street handled: the inspector verifies it."""
    answer = report(loop["inspector"], small_city, category="0102", description="井盖松动")
    case_id = int(answer.json()["case"]["id"])
    street = loop["street"]
    for action in ("file", "dispatch", "sign"):
        assert act(street, case_id, action).status_code == 200, action
    handled = act(street, case_id, "handle", note="已处理", photos=[photo("after.png")])
    assert handled.status_code == 200
    assert Case.objects.get(pk=case_id).verifier == loop["inspector"]
    return case_id


def camera_png(width: int, height: int) -> bytes:
    """A plain PNG with a phone camera's dimensions (and few bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = (b"\x00" + b"\x80\x90\xa0" * width) * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg_size(data: bytes) -> tuple[int, int]:
    """Width and height from a JPEG's start-of-frame segment."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    at = 2
    while at < len(data):
        marker, length = data[at + 1], struct.unpack(">H", data[at + 2 : at + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        at += 2 + length
    raise AssertionError("no frame header")


def fill_report(page: Page, description: str) -> None:
    page.select_option("#category", str(event_category("0101").pk))
    page.fill("#description", description)
    site: FilePayload = {"name": "site.png", "mimeType": "image/png", "buffer": PNG}
    page.set_input_files("#photos", files=[site])
    expect(page.locator("#thumbs img")).to_have_count(1)


def test_the_inspector_queues_a_report_offline_and_sends_it_once_online(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    task = handled_case_for(loop, small_city)
    servable_passwords()
    page = inspector_page(browser, server, small_city)
    outside = watch_hosts(page, server)
    page.reload()  # watched from the start
    expect(page.locator(f"#tasks li[data-case-id='{task}']")).to_contain_text("井盖松动")

    page.context.set_offline(True)
    fill_report(page, "路边有一堆暴露垃圾")
    page.click("#submit-report")
    queued = page.locator("#reports li[data-state='queued']")
    expect(queued).to_have_count(1)
    expect(page.locator("#net.offline")).to_be_visible()
    client_uuid = queued.get_attribute("data-uuid")
    assert client_uuid
    page.wait_for_timeout(500)
    assert not Case.objects.filter(client_uuid=client_uuid).exists()
    screenshot(page, "inspector-offline")

    page.context.set_offline(False)
    sent = page.locator(f"#reports li[data-uuid='{client_uuid}'][data-state='sent']")
    expect(sent).to_be_visible()
    case = Case.objects.get(client_uuid=client_uuid)  # exactly one
    assert sent.get_attribute("data-case-id") == str(case.pk)
    assert (case.reporter, case.datum) == (loop["inspector"], "wgs84")
    assert case.cell.code == INSPECTOR_CELL
    assert case.accuracy_m == 8 and case.state != State.CANCELLED
    assert case.photos.get().content_type == "image/png"  # not decodable: sent as taken
    assert page.locator("#reports li[data-state='queued']").count() == 0
    assert outside == []
    screenshot(page, "inspector")
    page.context.close()


def test_the_inspector_verifies_on_site_from_the_phone(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    good, bad = handled_case_for(loop, small_city), handled_case_for(loop, small_city)
    servable_passwords()
    page = inspector_page(browser, server, small_city)
    good_task = page.locator(f"#tasks li[data-case-id='{good}']")
    bad_task = page.locator(f"#tasks li[data-case-id='{bad}']")
    expect(bad_task).to_be_visible()
    screenshot(page, "inspector-tasks")
    # Both decisions ask first: the first 不通过 is taken back, then each is confirmed.
    dialogs: list[str] = []
    answers = [False, True, True]

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        if answers.pop(0):
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", on_dialog)
    # Pass and fail look different: colour and sign.
    pass_button = bad_task.locator("button.verify-pass")
    fail_button = bad_task.locator("button.verify-fail")
    expect(pass_button).to_contain_text("✓")
    expect(fail_button).to_contain_text("✗")
    colours = [
        b.evaluate("b => getComputedStyle(b).backgroundColor + getComputedStyle(b).color")
        for b in (pass_button, fail_button)
    ]
    assert colours[0] != colours[1]
    # The inspector starts on the good one: a note, and a photo as a phone camera takes
    # it (it goes shrunk to 1600 px on its long side).
    site: FilePayload = {
        "name": "fixed.png", "mimeType": "image/png", "buffer": camera_png(3000, 2000)
    }  # fmt: skip
    good_task.locator("textarea").fill("井盖已更换")
    good_task.locator("input[type=file]").set_input_files(files=[site])

    # Failing needs a reason: the page says so and sends nothing.
    bad_task.get_by_role("button", name="核查不通过").click()
    expect(bad_task.locator(".error")).to_have_text("核查不通过时，请写明原因。")
    assert Case.objects.get(pk=bad).state == State.HANDLED
    assert dialogs == []  # the reason is asked before the confirmation
    bad_task.locator("textarea").fill("井盖仍然松动")
    bad_task.get_by_role("button", name="核查不通过").click()
    page.wait_for_timeout(300)
    assert dialogs == ["确认核查不通过？案件将退回返工。"]
    assert Case.objects.get(pk=bad).state == State.HANDLED  # taken back: nothing sent
    bad_task.get_by_role("button", name="核查不通过").click()
    expect(page.locator("#task-status")).to_contain_text(f"#{bad} 核查不通过")
    expect(bad_task).to_have_count(0)
    failed = Case.objects.get(pk=bad)
    assert (failed.state, failed.reworks) == (State.REWORK, 1)
    assert failed.history.latest("pk").note == "井盖仍然松动"

    # The list was read again (after the action, and after its live event): the good
    # task's note and photo are still there.
    page.wait_for_timeout(1000)
    expect(good_task.locator("textarea")).to_have_value("井盖已更换")
    good_task.get_by_role("button", name="核查通过").click()
    expect(page.locator("#task-status")).to_contain_text(f"#{good} 核查通过")
    assert dialogs[-1] == "确认核查通过？案件将等待结案。" and answers == []
    expect(good_task).to_have_count(0)
    passed = Case.objects.get(pk=good)
    assert passed.state == State.VERIFIED
    verification = passed.history.latest("pk")
    assert (verification.actor, verification.to_state) == (loop["inspector"], State.VERIFIED)
    assert verification.note == "井盖已更换"
    shrunk = verification.photos.get()
    assert shrunk.content_type == "image/jpeg"
    with shrunk.image.open("rb") as stored:
        assert jpeg_size(stored.read()) == (1600, 1067)
    screenshot(page, "inspector-verified")
    page.context.close()


def test_the_inspector_page_opens_without_network_after_one_visit(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
) -> None:
    servable_passwords()
    port, prefix = free_port(), f"test-offline-{uuid.uuid4().hex[:8]}"
    with asgi_server(port, CHANNEL_LAYER_PREFIX=prefix) as url:
        page = inspector_page(browser, url, small_city)
        expect(page.locator("html[data-offline-ready]")).to_have_count(1)
    # The server is gone: to the phone, there is no network. The page opens all the same.
    page.reload()
    expect(page.locator("#gps.ok")).to_be_visible()
    fill_report(page, "断网时打开页面上报")
    page.click("#submit-report")
    queued = page.locator("#reports li[data-state='queued']")
    expect(queued).to_have_count(1)
    client_uuid = queued.get_attribute("data-uuid")
    screenshot(page, "inspector-opened-offline")
    with asgi_server(port, CHANNEL_LAYER_PREFIX=prefix):
        page.evaluate("window.dispatchEvent(new Event('online'))")
        sent = page.locator(f"#reports li[data-uuid='{client_uuid}'][data-state='sent']")
        expect(sent).to_be_visible(timeout=15_000)
    assert Case.objects.filter(client_uuid=client_uuid).count() == 1
    page.context.close()


def test_a_report_whose_answer_was_lost_is_resent_with_its_uuid_and_makes_one_case(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    servable_passwords()
    page = inspector_page(browser, server, small_city)
    answers: list[int] = []

    def lose_the_answer(route: Route) -> None:
        # The server gets the report and files it; the phone never hears back.
        answers.append(route.fetch().status)
        route.abort("connectionreset")

    page.route("**/api/cases/reports/", lose_the_answer)
    fill_report(page, "人行道上有暴露垃圾")
    page.click("#submit-report")
    queued = page.locator("#reports li[data-state='queued']")
    expect(queued).to_have_count(1)
    client_uuid = queued.get_attribute("data-uuid")
    for _ in range(50):  # route handlers run while the test waits on the page
        if answers:
            break
        page.wait_for_timeout(100)
    assert answers == [201]
    assert Case.objects.filter(client_uuid=client_uuid).count() == 1
    expect(page.locator(f"#reports li[data-uuid='{client_uuid}']")).to_have_attribute(
        "data-state", "queued"
    )

    # The network is back: a reload (the queue lives in IndexedDB) sends it again.
    page.unroute("**/api/cases/reports/")
    resent: list[str] = []
    page.on("request", lambda r: resent.append(r.url) if "/cases/reports/" in r.url else None)
    page.reload()
    sent = page.locator(f"#reports li[data-uuid='{client_uuid}'][data-state='sent']")
    expect(sent).to_be_visible()
    assert len(resent) == 1
    [case] = Case.objects.filter(client_uuid=client_uuid)
    assert sent.get_attribute("data-case-id") == str(case.pk)
    assert case.photos.count() == 1
    page.context.close()


def test_a_refused_report_stays_with_the_reason_until_discarded_and_a_5xx_is_retried(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    servable_passwords()
    page = inspector_page(browser, server, small_city)
    # A server in trouble (503) is not a refusal: the report waits and is tried again.
    page.route("**/api/cases/reports/", lambda route: route.fulfill(status=503, body="{}"))
    fill_report(page, "路边有一堆暴露垃圾")
    page.click("#submit-report")
    waiting = page.locator("#reports li[data-state='queued']")
    expect(waiting).to_have_count(1)
    page.unroute("**/api/cases/reports/")
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    expect(page.locator("#reports li[data-state='sent']")).to_have_count(1)

    # Out of the inspector's cells (another street): the server refuses it (400), and
    # the report stays, failed, with the server's reason, however often the queue runs.
    away = centre(small_city[CELLS["other_street"]])
    page.context.set_geolocation({"latitude": away.y, "longitude": away.x, "accuracy": 5})
    page.click("#gps-refresh")
    expect(page.locator("#gps.ok")).to_be_visible()
    fill_report(page, "别的街道的垃圾")
    page.click("#submit-report")
    failed = page.locator("#reports li[data-state='failed']")
    expect(failed).to_contain_text("不在您负责的网格内")
    client_uuid = failed.get_attribute("data-uuid")
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    page.wait_for_timeout(300)
    expect(failed).to_have_count(1)
    assert not Case.objects.filter(client_uuid=client_uuid).exists()
    screenshot(page, "inspector-refused")

    page.once("dialog", lambda dialog: dialog.accept())
    failed.locator("button", has_text="丢弃").click()
    expect(page.locator(f"#reports li[data-uuid='{client_uuid}']")).to_have_count(0)
    page.reload()  # gone from IndexedDB too, not only from the list
    expect(page.locator("#gps.ok")).to_be_visible()
    expect(page.locator("#reports li[data-state='failed']")).to_have_count(0)
    assert Case.objects.filter(reporter=loop["inspector"]).count() == 1
    page.context.close()


# ---- issue 13: the inspector's reports from the server, phone ergonomics, no GPS ---------

# Every tap target on the phone page that is smaller than 44×44 CSS px: buttons, links,
# inputs and labels that are shown (a file input is tapped through its label).
SMALL_TARGETS = """() => Array.from(document.querySelectorAll('button, a, input, label, select'))
  .filter(e => e.type !== 'file' && e.type !== 'hidden' && e.getClientRects().length > 0
               && getComputedStyle(e).visibility !== 'hidden')
  .map(e => { const r = e.getBoundingClientRect();
              return {tag: e.tagName, id: e.id, text: (e.innerText || e.value || '').slice(0, 20),
                      w: r.width, h: r.height}; })
  .filter(t => t.w < 43.5 || t.h < 43.5)"""


def test_the_inspectors_reports_are_listed_from_the_server_after_a_reload(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    earlier = report(loop["inspector"], small_city, category="0101", description="早上的上报")
    earlier_id = earlier.json()["case"]["id"]
    filed = handled_case_for(loop, small_city)  # reported by the inspector, now handled
    theirs = report(loop["inspector2"], small_city, category="0101", description="别人的上报")
    servable_passwords()
    page = inspector_page(browser, server, small_city)
    page.reload()
    mine = page.locator(f"#reports li[data-case-id='{earlier_id}']")
    expect(mine).to_contain_text("早上的上报")
    expect(mine).to_contain_text("已上报")  # its state, in words
    expect(page.locator(f"#reports li[data-case-id='{filed}']")).to_contain_text("井盖松动")
    expect(page.locator(f"#reports li[data-case-id='{filed}']")).to_have_attribute(
        "data-case-state", "handled"
    )
    if theirs.status_code == 201:
        theirs_id = theirs.json()["case"]["id"]
        expect(page.locator(f"#reports li[data-case-id='{theirs_id}']")).to_have_count(0)

    # Offline, a new report waits in the outbox, listed above the server's.
    page.context.set_offline(True)
    fill_report(page, "离线时的上报")
    page.click("#submit-report")
    queued = page.locator("#reports li[data-state='queued']")
    expect(queued).to_have_count(1)
    expect(page.locator("#reports li").first).to_have_attribute("data-state", "queued")
    expect(mine).to_be_visible()
    page.context.set_offline(False)
    sent = page.locator("#reports li[data-state='sent']", has_text="离线时的上报")
    expect(sent).to_have_count(1)
    new_id = int(sent.get_attribute("data-case-id") or 0)
    page.reload()
    expect(page.locator(f"#reports li[data-case-id='{new_id}']")).to_contain_text("离线时的上报")
    expect(page.locator(f"#reports li[data-case-id='{earlier_id}']")).to_be_visible()
    page.context.close()


def test_the_phone_page_has_big_targets_a_guarded_logout_and_the_own_cells(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    handled_case_for(loop, small_city)  # a verification task: its form is measured too
    servable_passwords()
    page = inspector_page(browser, server, small_city)
    expect(page.locator("#tasks .verify")).to_have_count(1)
    site: FilePayload = {"name": "site.png", "mimeType": "image/png", "buffer": PNG}
    page.set_input_files("#photos", files=[site])
    expect(page.locator("#photos-clear")).to_be_visible()
    assert page.evaluate(SMALL_TARGETS) == []
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390

    # 紧急 is a large toggle.
    toggle = page.locator("label.urgent-toggle").bounding_box()
    assert toggle and toggle["height"] >= 56 and toggle["width"] >= 120
    page.locator("label.urgent-toggle").click()
    expect(page.locator("#urgent")).to_be_checked()

    # The language switch is not beside 退出, and 退出 asks first.
    logout = page.locator(".topbar .logout button").bounding_box()
    assert logout
    for language in page.locator(".topbar .language button").all():
        box = language.bounding_box()
        assert box
        apart_x = (
            box["x"] + box["width"] + 24 <= logout["x"]
            or logout["x"] + logout["width"] + 24 <= box["x"]
        )
        apart_y = abs(box["y"] - logout["y"]) >= 44
        assert apart_x or apart_y
    asked: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click(".topbar .logout button")
    page.wait_for_timeout(300)
    assert asked == ["确定退出登录？未发送的上报会保留在本机。"]
    assert page.url.endswith("/map/inspector/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(".topbar .logout button")
    page.wait_for_url("**/accounts/login/**")

    # The own cell is drawn on the map (in the page before logging out: read again).
    page = inspector_page(browser, server, small_city)
    drawn = page.evaluate(
        on_page(
            "() => { const codes = []; $map.eachLayer(l => {"
            " if (l.feature && l.options.color === '#1570ef')"
            " codes.push(l.feature.properties.code);"
            " }); return codes.sort(); }"
        )
    )
    own = sorted(loop["inspector"].staff.cells.values_list("code", flat=True))
    assert own and drawn == own
    page.context.close()


def test_without_gps_the_page_says_so_and_the_report_is_placed_by_tapping_the_map(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    servable_passwords()
    # No geolocation permission: the browser refuses the position.
    page = log_in(
        browser, server, "inspector",
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
    )  # fmt: skip
    page.goto("/map/inspector/")
    expect(page.locator("#gps.bad")).to_contain_text("定位权限被拒绝。请在地图上点选问题所在位置。")
    page.click("#submit-report")
    expect(page.locator("#form-error")).to_contain_text("尚未取得定位")

    target = centre(small_city[INSPECTOR_CELL])
    page.wait_for_function(on_page("() => !$map._animatingZoom"))
    page.evaluate(
        on_page("([lat, lon]) => $map.setView([lat, lon], 17, {animate: false})"),
        [target.y, target.x],
    )
    page.locator(".folium-map").tap()
    expect(page.locator("#gps.tapped")).to_contain_text("已在地图上选定位置")
    fill_report(page, "定位不可用时点选的位置")
    page.click("#submit-report")
    sent = page.locator("#reports li[data-state='sent']", has_text="定位不可用时点选的位置")
    expect(sent).to_have_count(1)
    case = Case.objects.get(pk=int(sent.get_attribute("data-case-id") or 0))
    assert abs(case.geom.x - target.x) < 0.0005 and abs(case.geom.y - target.y) < 0.0005
    assert case.cell.code == INSPECTOR_CELL and case.accuracy_m is None
    page.context.close()
