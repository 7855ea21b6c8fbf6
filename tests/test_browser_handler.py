"""The handler's workbench in Debian's chromium on a phone-sized screen: the city water
authority (`department`) signs a case dispatched to it, reports its handling with a note
and a photo, asks for more time on a second case and returns a third; a fourth arrives
live. At every step the buttons shown are exactly the case detail's allowed_actions, and
the server's state is what the page said."""

from __future__ import annotations

import struct
import zlib

from django.contrib.auth.models import User
from playwright.sync_api import Browser, FilePayload, Page, expect

from dispatch.models import ExtensionRequest
from incidents.models import Case, State
from layers.models import Area, Staff
from tests.browser import log_in, on_page, screenshot, servable_passwords
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, act, client_for, event_category

PHONE = {"width": 390, "height": 844}


def real_png(size: int = 48) -> bytes:
    """A PNG a browser can draw (tests.loop.PNG only has the signature): a blue square."""
    rows = b"".join(b"\x00" + b"\x12\x3b\x63" * size for _ in range(size))

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


def filed(city: dict[str, Area], text: str) -> int:
    """A hotline ticket, filed by the city. Users are read afresh: signing in through the
    browser may have rehashed a password, which ends the sessions of the old hash."""
    point = centre(city[INSPECTOR_CELL])
    response = client_for(User.objects.get(username="hotline")).post(
        "/api/cases/tickets/",
        {"channel": "phone", "category": event_category("0101").pk, "description": text,
         "address_text": text, "lon": point.x, "lat": point.y},
        format="json",
    )  # fmt: skip
    assert response.status_code in (200, 201), response.json()
    case_id = int(response.json()["case"]["id"])
    assert act(User.objects.get(username="city"), case_id, "file").status_code == 200
    return case_id


def water_unit() -> int:
    return Staff.objects.get(user__username="department").unit_id


def dispatched_to_water(city: dict[str, Area], text: str) -> int:
    """A hotline ticket, filed and dispatched by the city to the water authority."""
    case_id = filed(city, text)
    sent = act(User.objects.get(username="city"), case_id, "dispatch", unit=water_unit())
    assert sent.status_code == 200, sent.json()
    return case_id


def allowed(user: User, case_id: int) -> list[str]:
    # Read afresh: signing in through the browser may have rehashed the password, which
    # ends the sessions made with the old hash.
    response = client_for(User.objects.get(pk=user.pk)).get(f"/api/cases/{case_id}/")
    detail = response.json()
    assert response.status_code == 200, detail
    return [entry["action"] for entry in detail["allowed_actions"]]


def shown_actions(page: Page, case_id: int, state: str) -> list[str]:
    panel = page.locator(f".case-panel[data-case='{case_id}'][data-state='{state}']")
    expect(panel).to_be_visible()
    buttons = panel.locator(".actions button")
    return [buttons.nth(i).get_attribute("data-action") or "" for i in range(buttons.count())]


def open_case(page: Page, queue: str, case_id: int) -> None:
    page.click(f"[data-queue='{queue}']")
    page.click(f".queue .case-row[data-case='{case_id}']")


def test_a_department_signs_handles_asks_for_time_and_returns_on_a_phone(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    servable_passwords()
    for user in loop.values():  # their new password hashes, or their sessions lapse
        user.refresh_from_db()
    water = loop["department"]
    first = dispatched_to_water(small_city, "自来水管破裂，路面积水")
    second = dispatched_to_water(small_city, "消防栓漏水")
    third = dispatched_to_water(small_city, "不属于水务的占道经营")

    page = log_in(browser, server, "department", viewport=PHONE, is_mobile=True, has_touch=True)
    page.wait_for_url("**/map/handle/")  # a department lands on its workbench
    expect(page.locator(".live-status[data-status='open']")).to_be_visible()
    page.evaluate("window.loadedOnce = true")
    expect(page.locator("[data-queue-count='to_sign']")).to_have_text("3")
    expect(page.locator(".queue .case-row")).to_have_count(3)

    # Sign the first case: the buttons were the server's, before and after.
    open_case(page, "to_sign", first)
    assert shown_actions(page, first, State.DISPATCHED) == allowed(water, first)
    assert "sign" in allowed(water, first)
    sign = page.locator(".case-panel .actions button[data-action='sign']")
    box = sign.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 44  # a thumb's target
    sign.click()
    expect(page.locator(".notice.done")).to_contain_text(f"#{first}")
    assert shown_actions(page, first, State.SIGNED) == allowed(water, first)
    assert Case.objects.get(pk=first).state == State.SIGNED
    expect(page.locator("[data-queue-count='to_sign']")).to_have_text("2")
    expect(page.locator("[data-queue-count='in_progress']")).to_have_text("1")

    # Report the handling with a note and a photo taken on the phone.
    page.click(".case-panel .actions button[data-action='handle']")
    form = page.locator("form.case-form[data-action='handle']")
    photos = form.locator("input[type=file][name=photos]")
    expect(photos).to_have_attribute("accept", "image/*")
    expect(photos).to_have_attribute("capture", "environment")
    form.locator("textarea[name=note]").fill("已关阀抢修，管道更换完毕")
    photos.set_input_files(
        files=[FilePayload(name="fixed.png", mimeType="image/png", buffer=real_png())]
    )
    form.locator("button[type=submit]").click()
    expect(page.locator(".notice.done")).to_contain_text(f"#{first}")
    handled = page.locator(f".case-panel[data-case='{first}'][data-state='{State.HANDLED}']")
    expect(handled).to_be_visible()
    entry = handled.locator(".history li[data-action='handle']")
    expect(entry.locator(".note")).to_have_text("已关阀抢修，管道更换完毕")
    expect(entry.locator(".photo-strip img")).to_have_count(1)
    assert shown_actions(page, first, State.HANDLED) == allowed(water, first)
    case = Case.objects.get(pk=first)
    assert case.state == State.HANDLED
    feedback = case.history.get(action="handle")
    assert (feedback.note, feedback.photos.count()) == ("已关阀抢修，管道更换完毕", 1)
    # The photo opens full size, and closes again.
    entry.locator(".photo-strip button.photo").click()
    expect(page.locator(".photo-overlay img")).to_be_visible()
    page.locator(".photo-overlay .close").click()
    expect(page.locator(".photo-overlay")).to_have_count(0)
    expect(page.locator("[data-queue-count='in_progress']")).to_have_text("0")
    screenshot(page, "handler-phone")

    # Ask for two more working days on the second case, once signed.
    open_case(page, "to_sign", second)
    page.locator(f".case-panel[data-case='{second}'] button[data-action='sign']").click()
    assert shown_actions(page, second, State.SIGNED) == allowed(water, second)
    page.click(".case-panel .actions button[data-action='request_extension']")
    form = page.locator("form.case-form[data-action='request_extension']")
    form.locator("select[name=kind]").select_option("extend")
    form.locator("input[name=days]").fill("2")
    form.locator("textarea[name=reason]").fill("需等待管材到货")
    form.locator("button[type=submit]").click()
    pending = page.locator(f".case-panel[data-case='{second}'] .pending .extension")
    expect(pending).to_contain_text("需等待管材到货")
    request = ExtensionRequest.objects.get(case_id=second)
    assert (request.kind, request.reason, request.approved) == ("extend", "需等待管材到货", None)
    assert request.hours is not None and request.hours >= 2
    assert shown_actions(page, second, State.SIGNED) == allowed(water, second)

    # Return the third: not the water authority's to handle.
    open_case(page, "to_sign", third)
    assert shown_actions(page, third, State.DISPATCHED) == allowed(water, third)
    page.click(".case-panel .actions button[data-action='return']")
    form = page.locator("form.case-form[data-action='return']")
    form.locator("textarea[name=reason]").fill("占道经营属城管执法，非水务职责")
    form.locator("button[type=submit]").click()
    expect(page.locator(".notice.done")).to_contain_text(f"#{third}")
    returned = Case.objects.get(pk=third)
    assert returned.state == State.RETURNED
    assert returned.history.get(action="return").note == "占道经营属城管执法，非水务职责"
    expect(page.locator("[data-queue-count='to_sign']")).to_have_text("0")

    # A case dispatched meanwhile arrives without a reload: dispatched from the city's
    # page, so that the server process announces it on its channel layer.
    fourth = filed(small_city, "井盖缺失")
    city = log_in(browser, server, "city")
    sent = city.evaluate(
        on_page("""([id, unit]) => fetch(`/api/cases/${id}/dispatch/`, {
             method: "POST", credentials: "same-origin",
             headers: {"Content-Type": "application/json",
                       "X-CSRFToken": $config.csrf},
             body: JSON.stringify({unit: unit, expected_state: "filed"}),
           }).then((r) => r.status)"""),
        [fourth, water_unit()],
    )
    assert sent == 200
    expect(page.locator(f".queue .case-row[data-case='{fourth}']")).to_have_count(1)
    expect(page.locator("[data-queue-count='to_sign']")).to_have_text("1")

    # Nothing on the phone page scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.evaluate("window.loadedOnce") is True, "the page was reloaded"
    page.context.close()
    city.context.close()
