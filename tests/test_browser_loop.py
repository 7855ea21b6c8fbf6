"""The whole case loop by clicks only, in Debian's chromium, each role on its own page:
the inspector reports a polluted waterway with a photo on the phone page; the street
board files it and dispatches it, and the routing sends it to the city water authority
(`department`); the authority signs and reports its handling with a note and a photo on
a phone-sized workbench; the inspector fails the verification with a reason (返工);
the authority signs and reports again; the inspector passes it; the street closes it.
The test acts only through the pages; it reads the database to check every step."""

from __future__ import annotations

import struct
import zlib

from django.contrib.auth.models import User
from playwright.sync_api import Browser, FilePayload, Page, expect

from dispatch.models import RoutingRule, TargetTier
from incidents.models import Case, State
from layers.models import Area, Staff
from tests.browser import inspector_page, live_page, log_in, screenshot, servable_passwords
from tests.loop import actions, event_category

PHONE = {"width": 390, "height": 844}
WATERWAY = "0106"  # 水域不洁: the water authority's matter (水务部门)


def real_png(size: int = 32) -> bytes:
    """A PNG a browser can draw: a green-blue square."""
    rows = b"".join(b"\x00" + b"\x1f\x7a\x8c" * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def png(name: str) -> FilePayload:
    return FilePayload(name=name, mimeType="image/png", buffer=real_png())


def state_of(case_id: int) -> str:
    return Case.objects.get(pk=case_id).state


def street_acts(page: Page, queue: str, case_id: int, action: str, state: str) -> None:
    """On the street board: open the case from `queue`, press `action` (sent at once, or
    its form confirmed as it opens), and wait until the page shows the case in `state`."""
    page.click(f"[data-queue='{queue}']")
    page.click(f".queue .case-row[data-case='{case_id}']")
    detail = page.locator(f".case-detail[data-case='{case_id}']")
    detail.locator(f".actions button[data-action='{action}']").click()
    if action == "dispatch":  # 派遣 offers a unit picker: left alone, the rules route it
        page.locator("form.case-form[data-action='dispatch'] button[type=submit]").click()
    expect(page.locator(".notice.done")).to_contain_text(f"#{case_id}")
    expect(detail).to_have_attribute("data-state", state)


def handler_signs_and_reports(handler: Page, case_id: int, note: str, photo: str) -> None:
    """On the workbench: sign the case waiting in 待签收, then report its handling."""
    handler.click("[data-queue='to_sign']")
    handler.click(f".queue .case-row[data-case='{case_id}']")
    panel = handler.locator(f".case-panel[data-case='{case_id}']")
    panel.locator(".actions button[data-action='sign']").click()
    expect(
        handler.locator(f".case-panel[data-case='{case_id}'][data-state='signed']")
    ).to_be_visible()
    assert state_of(case_id) == State.SIGNED

    panel.locator(".actions button[data-action='handle']").click()
    form = handler.locator("form.case-form[data-action='handle']")
    form.locator("textarea[name=note]").fill(note)
    form.locator("input[type=file][name=photos]").set_input_files(files=[png(photo)])
    form.locator("button[type=submit]").click()
    handled = handler.locator(f".case-panel[data-case='{case_id}'][data-state='handled']")
    expect(handled).to_be_visible()
    expect(handled.locator(".history li[data-action='handle'] .note").last).to_have_text(note)


def inspector_verifies(
    inspector: Page, case_id: int, handler_note: str, shot: str, fail: str = ""
) -> None:
    """On the phone page: the task shows what the handler reported; pass, or fail with
    a reason. The page asks to confirm either (the test's dialog handler says yes)."""
    task = inspector.locator(f"#tasks li[data-case-id='{case_id}']")
    expect(task.locator(".handler-report .note")).to_have_text(handler_note)
    expect(task.locator(".handler-report .photo-thumb img")).to_have_count(1)
    if fail:
        task.locator(".verify textarea").fill(fail)
    task.scroll_into_view_if_needed()
    screenshot(inspector, shot)
    with inspector.expect_event("dialog"):
        task.locator(".verify-fail" if fail else ".verify-pass").click()
    # Done: the task leaves the list (the case no longer waits for this inspector).
    expect(task).to_have_count(0)


def test_the_whole_case_loop_by_clicks_with_one_rework(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    # The city's routing (data, set in the admin): a polluted waterway goes to the city
    # water authority, the demo `department`.
    water = Staff.objects.get(user__username="department").unit
    RoutingRule.objects.create(
        order=1,
        name="水域不洁派市水务局",
        category=event_category(WATERWAY),
        tier=TargetTier.CITY,
        unit=water,
    )
    servable_passwords()
    inspector_user = User.objects.get(username="inspector")  # its new password hash

    # 1. The inspector reports with a photo, on the phone.
    inspector = inspector_page(browser, server, small_city)
    inspector.on("dialog", lambda dialog: dialog.accept())  # the pages' confirmations
    inspector.select_option("#category", str(event_category(WATERWAY).pk))
    inspector.fill("#description", "河涌水面漂浮大量垃圾，有异味")
    inspector.set_input_files("#photos", files=[png("river.png")])
    expect(inspector.locator("#thumbs img")).to_have_count(1)
    inspector.click("#submit-report")
    sent = inspector.locator("#reports li[data-state='sent']")
    expect(sent).to_have_count(1)
    case_id = int(sent.get_attribute("data-case-id") or 0)
    case = Case.objects.get(pk=case_id)
    assert (case.state, case.reporter, case.category) == (
        State.REPORTED, inspector_user, event_category(WATERWAY),
    )  # fmt: skip
    assert case.photos.count() == 1
    screenshot(inspector, "loop-01-inspector-reports")

    # 2. The street files it and dispatches it: the routing sends it to the authority.
    street = live_page(browser, server, "street", "/map/street/")
    street_acts(street, "new", case_id, "file", State.FILED)
    assert state_of(case_id) == State.FILED
    street_acts(street, "new", case_id, "dispatch", State.DISPATCHED)
    case.refresh_from_db()
    assert (case.state, case.unit_id) == (State.DISPATCHED, water.pk)
    screenshot(street, "loop-02-street-dispatches")

    # 3. The authority signs and reports its handling, on a phone.
    handler = log_in(browser, server, "department", viewport=PHONE, is_mobile=True, has_touch=True)
    handler.wait_for_url("**/map/handle/")
    expect(handler.locator(".live-status[data-status='open']")).to_be_visible()
    handler_signs_and_reports(handler, case_id, "已组织保洁船打捞，水面已清理", "cleaned.png")
    case.refresh_from_db()
    assert (case.state, case.verifier) == (State.HANDLED, inspector_user)
    first = case.history.get(action="handle")
    assert (first.note, first.photos.count()) == ("已组织保洁船打捞，水面已清理", 1)
    screenshot(handler, "loop-03-department-handles")

    # 4. The inspector checks on site: not done, with the reason (返工). The task came
    # to the open page live.
    inspector_verifies(
        inspector,
        case_id,
        "已组织保洁船打捞，水面已清理",
        "loop-04-inspector-verification-task",
        fail="岸边仍有垃圾堆积，异味未除",
    )
    expect(inspector.locator("#task-status")).to_contain_text(f"#{case_id}")
    case.refresh_from_db()
    assert (case.state, case.reworks) == (State.REWORK, 1)
    assert case.history.get(action="verify_fail").note == "岸边仍有垃圾堆积，异味未除"
    screenshot(inspector, "loop-05-inspector-sends-back")

    # 5. The case is back on the authority's workbench, live: sign and report again.
    rework = handler.locator(f".queue .case-row[data-case='{case_id}']")
    handler.click("[data-queue='rework']")
    expect(rework).to_have_attribute("data-state", State.REWORK)
    handler_signs_and_reports(handler, case_id, "已清运岸边垃圾并消杀", "cleaned-again.png")
    case.refresh_from_db()
    assert case.state == State.HANDLED
    assert case.history.filter(action="handle").count() == 2
    screenshot(handler, "loop-06-department-reworks")

    # 6. The inspector passes it.
    inspector_verifies(inspector, case_id, "已清运岸边垃圾并消杀", "loop-07-inspector-task-again")
    assert state_of(case_id) == State.VERIFIED
    screenshot(inspector, "loop-08-inspector-passes")

    # 7. The street closes it, from its 待核查 queue (the case reached it live).
    street_acts(street, "awaiting_verification", case_id, "close", State.CLOSED)
    case.refresh_from_db()
    assert case.state == State.CLOSED and case.closed_at is not None
    screenshot(street, "loop-09-street-closes")

    assert actions(case) == [
        "report", "file", "dispatch", "sign", "handle", "verify_fail", "sign", "handle",
        "verify_pass", "close",
    ]  # fmt: skip
    for page in (inspector, street, handler):
        page.context.close()
