"""Decisions where they belong, by clicks in Debian's chromium: the street board cancels a
junk report with a reason and merges a duplicate into the case it repeats (offered among
the nearby likely duplicates); the district's command centre approves a handler's
extension request from its 待我决定 queue and presses the unit (督办), which the unit's
board shows live, and re-dispatches a case the street returned; the street, as the
handler, reports its handling with a photo, which the inspector's verification task
shows; photos are thumbnails that open full size. Every step is checked in the
database, not only on the page."""

from __future__ import annotations

import struct
import time
import zlib

from django.contrib.auth.models import User
from playwright.sync_api import Browser, FilePayload, Locator, Page, expect

from dispatch.models import ExtensionRequest
from dispatch.routing import places_of
from incidents.models import Case, State
from layers.models import Area, Staff, Tier, Unit, UnitKind
from map_ui.pages.command import work_day_hours
from tests.browser import inspector_page, live_page, screenshot, servable_passwords
from tests.loop import act, actions, photo, report


def real_png(width: int = 40, height: int = 30) -> bytes:
    """A small PNG that a browser draws (a grey rectangle)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def drawn_width(image: Locator) -> int:
    """The natural width of an image once the browser has loaded and decoded it (0 while
    it has not; a photo the browser cannot draw stays 0)."""
    deadline = time.monotonic() + 5
    while True:
        width = int(image.evaluate("img => img.complete ? img.naturalWidth : 0"))
        if width or time.monotonic() > deadline:
            return width
        time.sleep(0.1)


def open_case(page: Page, case_id: int) -> None:
    page.click(f"[data-case='{case_id}'] >> nth=0")
    expect(page.locator(f".case-detail[data-case='{case_id}']")).to_be_visible()


def test_the_street_cancels_a_junk_report_merges_a_duplicate_and_sees_its_photos(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    inspector = loop["inspector"]
    answer = report(inspector, small_city, description="测试")
    assert answer.status_code == 201, answer.json()
    junk = answer.json()["case"]["id"]
    first = report(inspector, small_city, photos=[photo("a.png", real_png())])
    first_id = first.json()["case"]["id"]
    again = report(inspector, small_city).json()["case"]["id"]
    assert Case.objects.get(pk=junk).state == State.REPORTED
    servable_passwords()

    street = live_page(browser, server, "street", "/map/street/")
    expect(street.locator(".queue .case-row")).to_have_count(3)

    # 注销 with a reason: the form asks, the case leaves the queue.
    open_case(street, junk)
    street.click(".case-detail button[data-action='cancel']")
    form = street.locator("form.case-form[data-action='cancel']")
    expect(form.locator(".confirm-question")).to_be_visible()
    form.locator("textarea[name=reason]").fill("无效上报：测试数据")
    form.locator("button[type=submit]").click()
    expect(street.locator(".notice.done")).to_contain_text(f"#{junk}")
    expect(street.locator(f".queue .case-row[data-case='{junk}']")).to_have_count(0)
    cancelled = Case.objects.get(pk=junk)
    assert cancelled.state == State.CANCELLED
    assert cancelled.history.filter(action="cancel", note="无效上报：测试数据").exists()

    # Every action carries the state the page showed: filed meanwhile (by someone else,
    # behind the page's back), the case is not merged blindly; the page says why.
    open_case(street, again)
    expect(street.locator(".case-detail")).to_have_attribute("data-state", State.REPORTED)
    other = User.objects.get(username="street")  # read again: its password changed above
    assert act(other, again, "file").status_code == 200
    street.click(".case-detail button[data-action='merge']")
    street.locator("form.case-form[data-action='merge'] input[name=into]").fill(str(first_id))
    street.locator("form.case-form[data-action='merge'] button[type=submit]").click()
    # "已变为「已立案」（您看到的是「已上报」）…": the server compared expected_state.
    expect(street.locator(".notice.error")).to_contain_text("已立案")
    assert Case.objects.get(pk=again).state == State.FILED

    # 合并: the nearby likely duplicate is offered; picked and confirmed.
    open_case(street, again)
    expect(street.locator(".case-detail")).to_have_attribute("data-state", State.FILED)
    street.click(".case-detail button[data-action='merge']")
    offered = street.locator(f".merge-targets li[data-case='{first_id}'] button.pick")
    expect(offered).to_be_visible()
    offered.click()
    form = street.locator("form.case-form[data-action='merge']")
    expect(form.locator("input[name=into]")).to_have_value(str(first_id))
    form.locator("button[type=submit]").click()
    expect(street.locator(".notice.done")).to_contain_text(f"#{again}")
    merged = Case.objects.get(pk=again)
    assert (merged.state, merged.merged_into_id) == (State.MERGED, first_id)
    # The case it went into says so in its history.
    open_case(street, first_id)
    history = street.locator(".case-detail .history")
    expect(history).to_contain_text(f"并入重复案件 → 已上报 #{again}")

    # The reporter's photo: a thumbnail in the history that opens full size.
    open_case(street, first_id)
    thumb = street.locator(".case-detail .history .photo-strip img")
    expect(thumb).to_have_count(1)
    stored = Case.objects.get(pk=first_id).photos.get()
    url = f"/api/cases/{first_id}/photos/{stored.pk}/"
    assert drawn_width(thumb) == 40
    thumb.click()
    full = street.locator(".photo-overlay img")
    expect(full).to_have_attribute("src", url)
    assert drawn_width(full) == 40
    screenshot(street, "street-photo-viewer")
    street.locator(".photo-overlay").click()
    expect(street.locator(".photo-overlay")).to_have_count(0)
    street.context.close()


def test_the_district_approves_an_extension_and_its_supervision_reaches_the_unit_live(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    # Street order reported by an inspector goes to the street office at once: the
    # street is the handler here; it signs and asks for more time.
    case_id = report(loop["inspector"], small_city, category="0501").json()["case"]["id"]
    assert act(loop["street"], case_id, "sign").status_code == 200
    servable_passwords()
    district = live_page(browser, server, "district", "/map/command/")

    # The street, the handler, asks for 2 more working days on its board (sent in hours).
    street = live_page(browser, server, "street", "/map/street/")
    street.click("[data-queue='in_progress']")
    open_case(street, case_id)
    street.click(".case-detail button[data-action='request_extension']")
    form = street.locator("form.case-form[data-action='request_extension']")
    form.locator("select[name=kind]").select_option("extend")
    form.locator("input[name=days]").fill("2")
    form.locator("textarea[name=reason]").fill("需协调供电部门断电施工")
    form.locator("button[type=submit]").click()
    expect(street.locator(".notice.done")).to_contain_text(f"#{case_id}")
    asked = ExtensionRequest.objects.get(case_id=case_id)
    hours = round(2 * work_day_hours())
    assert (asked.kind, asked.hours, asked.approved) == ("extend", hours, None)
    due_before = Case.objects.get(pk=case_id).due_at
    assert due_before is not None
    # The street does not decide its own request: no such button on its board.
    expect(street.locator(".case-detail .pending .extension")).to_be_visible()
    expect(street.locator(".case-detail button[data-action='approve_extension']")).to_have_count(0)

    # The district's 待我决定 shows the request live.
    waiting = district.locator(f".awaiting li[data-case='{case_id}']")
    expect(waiting.locator(".badge.extension")).to_be_visible()
    waiting.locator("a").click()
    panel = district.locator(f".case-detail[data-case='{case_id}']")
    expect(panel.locator(".pending .extension")).to_contain_text("需协调供电部门断电施工")
    panel.locator("button[data-action='approve_extension']").click()
    district.locator("form.case-form[data-action='approve_extension'] button[type=submit]").click()
    expect(district.locator(".notice.done")).to_contain_text(f"#{case_id}")
    expect(panel.locator(".pending .extension")).to_have_count(0)
    decided = ExtensionRequest.objects.get(case_id=case_id)
    assert (decided.approved, decided.decided_by) == (True, loop["district"])
    due_after = Case.objects.get(pk=case_id).due_at
    assert due_after is not None and due_after > due_before  # 2 working days later
    expect(waiting).to_have_count(0)

    # 督办 with a note and a date: the case history and the unit's board, live.
    panel.locator("button[data-action='supervise']").click()
    form = district.locator("form.case-form[data-action='supervise']")
    form.locator("textarea[name=note]").fill("请于明日前完成处置并反馈")
    form.locator("button[type=submit]").click()
    expect(district.locator(".notice.done")).to_contain_text(f"#{case_id}")
    expect(panel.locator(".supervision")).to_contain_text("请于明日前完成处置并反馈")
    case = Case.objects.get(pk=case_id)
    assert case.state == State.SIGNED
    assert case.history.filter(action="supervise", note="请于明日前完成处置并反馈").exists()
    unit_view = street.locator(f".case-detail[data-case='{case_id}'] .supervision")
    expect(unit_view).to_contain_text("请于明日前完成处置并反馈")
    expect(street.locator(".case-detail .history")).to_contain_text("督办")
    screenshot(district, "command-case-panel")
    for page in (street, district):
        page.context.close()


def test_the_street_reports_handling_with_a_photo_that_the_verification_task_shows(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    case_id = report(loop["inspector"], small_city, category="0501").json()["case"]["id"]
    assert act(loop["street"], case_id, "sign").status_code == 200
    servable_passwords()
    # The street office is the handler: it reports the handling (反馈) with a photo on
    # its own board.
    street = live_page(browser, server, "street", "/map/street/")
    street.click("[data-queue='in_progress']")
    open_case(street, case_id)
    street.click(".case-detail button[data-action='handle']")
    form = street.locator("form.case-form[data-action='handle']")
    form.locator("textarea[name=note]").fill("摊贩已劝离，路面已清理")
    after = FilePayload(name="after.png", mimeType="image/png", buffer=real_png())
    form.locator("input[name=photos]").set_input_files(files=[after])
    form.locator("button[type=submit]").click()
    expect(street.locator(".notice.done")).to_contain_text(f"#{case_id}")
    case = Case.objects.get(pk=case_id)
    assert (case.state, case.verifier) == (State.HANDLED, loop["inspector"])
    street.context.close()

    inspector = inspector_page(browser, server, small_city)
    shown = inspector.locator(f"#tasks li[data-case-id='{case_id}'] .handler-report")
    expect(shown).to_contain_text("摊贩已劝离，路面已清理")
    stored = case.photos.get(event__action="handle")
    link = shown.locator(".photo-thumb")
    expect(link).to_have_attribute("href", f"/api/cases/{case_id}/photos/{stored.pk}/")
    assert drawn_width(link.locator("img")) == 40
    inspector.context.close()


def test_the_district_redispatches_a_returned_case_to_a_district_department(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    case_id = report(loop["inspector"], small_city, category="0501").json()["case"]["id"]
    department = Unit.objects.filter(area__code="440106", kind=UnitKind.DEPARTMENT).first()
    assert department is not None
    servable_passwords()
    district = live_page(browser, server, "district", "/map/command/")
    expect(district.locator(f".awaiting li[data-case='{case_id}']")).to_have_count(0)

    # The street office returns it on its board (not its matter): the district has it to
    # decide, live.
    street = live_page(browser, server, "street", "/map/street/")
    street.click("[data-queue='to_sign']")
    open_case(street, case_id)
    street.click(".case-detail button[data-action='return']")
    form = street.locator("form.case-form[data-action='return']")
    form.locator("textarea[name=reason]").fill("需区级部门处置")
    form.locator("button[type=submit]").click()
    expect(street.locator(".notice.done")).to_contain_text(f"#{case_id}")
    assert Case.objects.get(pk=case_id).state == State.RETURNED
    waiting = district.locator(f".awaiting li[data-case='{case_id}']")
    expect(waiting).to_have_attribute("data-state", State.RETURNED)
    waiting.locator("a").click()
    panel = district.locator(f".case-detail[data-case='{case_id}']")
    panel.locator("button[data-action='redispatch']").click()
    form = district.locator("form.case-form[data-action='redispatch']")
    # The picker offers units whose area holds the case, not the street's own office.
    offered = form.locator("select[name=unit] option")
    assert department.name in offered.all_text_contents()
    form.locator("select[name=unit]").select_option(str(department.pk))
    form.locator("textarea[name=reason]").fill("属区市政部门职责")
    form.locator("button[type=submit]").click()
    expect(district.locator(".notice.done")).to_contain_text(f"#{case_id}")
    expect(panel).to_have_attribute("data-state", State.DISPATCHED)
    case = Case.objects.get(pk=case_id)
    assert (case.state, case.unit_id) == (State.DISPATCHED, department.pk)
    assert case.history.filter(action="redispatch", note="属区市政部门职责").exists()
    expect(waiting).to_have_count(0)
    for page in (street, district):
        page.context.close()


def test_the_street_escalates_a_case_which_awaits_the_district_live(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    case_id = report(loop["inspector"], small_city, category="0501").json()["case"]["id"]
    servable_passwords()
    district = live_page(browser, server, "district", "/map/command/")
    waiting = district.locator(f".awaiting li[data-case='{case_id}']")
    expect(waiting).to_have_count(0)

    street = live_page(browser, server, "street", "/map/street/")
    street.click("[data-queue='to_sign']")
    open_case(street, case_id)
    street.click(".case-detail button[data-action='escalate']")
    form = street.locator("form.case-form[data-action='escalate']")
    form.locator("textarea[name=reason]").fill("涉及多个街道，需区级协调")
    form.locator("button[type=submit]").click()
    expect(street.locator(".notice.done")).to_contain_text(f"#{case_id}")
    case = Case.objects.select_related("unit").get(pk=case_id)
    assert case.state == State.DISPATCHED and case.unit is not None
    assert case.unit.area.code == "440106"  # the district's command centre has it now

    # The district's 待我决定 shows it without a reload; its panel offers its tier's actions.
    expect(waiting).to_have_attribute("data-state", State.DISPATCHED)
    waiting.locator("a").click()
    panel = district.locator(f".case-detail[data-case='{case_id}']")
    expect(panel.locator("button[data-action='sign']")).to_be_visible()
    expect(panel.locator("button[data-action='redispatch']")).to_be_visible()
    for page in (street, district):
        page.context.close()


def test_the_district_escalates_to_the_city_which_redispatches_it_to_a_department(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    # A street order, escalated by the street office (its own step, tested above): the
    # district's command centre has it.
    case_id = report(loop["inspector"], small_city, category="0501").json()["case"]["id"]
    assert act(loop["street"], case_id, "escalate", reason="需区级协调").status_code == 200
    department = Staff.objects.get(user__username="department").unit  # city-wide
    servable_passwords()
    city = live_page(browser, server, "city", "/map/command/")
    city_waiting = city.locator(f".awaiting li[data-case='{case_id}']")
    expect(city_waiting).to_have_count(0)

    # The district escalates it again from its panel: beyond the district too.
    district = live_page(browser, server, "district", "/map/command/")
    district.locator(f".awaiting li[data-case='{case_id}'] a").click()
    panel = district.locator(f".case-detail[data-case='{case_id}']")
    panel.locator("button[data-action='escalate']").click()
    form = district.locator("form.case-form[data-action='escalate']")
    form.locator("textarea[name=reason]").fill("跨区管线，需市级协调")
    form.locator("button[type=submit]").click()
    expect(district.locator(".notice.done")).to_contain_text(f"#{case_id}")
    case = Case.objects.select_related("unit__area").get(pk=case_id)
    assert case.state == State.DISPATCHED and case.unit is not None
    assert case.unit.area.tier == Tier.CITY  # the city's command centre has it now
    city_centre = case.unit_id

    # The city's 待我决定 shows it live; the city re-dispatches it to the city-wide water
    # authority, picked in its panel (closing is not offered: nobody has handled it).
    expect(city_waiting).to_have_attribute("data-state", State.DISPATCHED)
    city_waiting.locator("a").click()
    panel = city.locator(f".case-detail[data-case='{case_id}']")
    expect(panel.locator("button[data-action='redispatch']")).to_be_visible()
    expect(panel.locator("button[data-action='close']")).to_have_count(0)
    panel.locator("button[data-action='redispatch']").click()
    form = city.locator("form.case-form[data-action='redispatch']")
    expect(form.locator(".confirm-question")).to_be_visible()
    picker = form.locator("select[name=unit]")
    offered = picker.locator("option").evaluate_all("options => options.map(o => o.value)")
    assert str(department.pk) in offered and str(city_centre) not in offered
    picker.select_option(str(department.pk))
    form.locator("textarea[name=reason]").fill("供水管网属市水务部门")
    form.locator("button[type=submit]").click()
    expect(city.locator(".notice.done")).to_contain_text(f"#{case_id}")
    expect(panel).to_have_attribute("data-state", State.DISPATCHED)
    expect(panel.locator(".history li[data-action='redispatch']")).to_contain_text(department.name)
    case = Case.objects.get(pk=case_id)
    assert (case.state, case.unit_id) == (State.DISPATCHED, department.pk)
    assert actions(case)[-3:] == ["escalate", "escalate", "redispatch"]
    assert case.history.get(action="redispatch").note == "供水管网属市水务部门"
    expect(city_waiting).to_have_count(0)
    screenshot(city, "command-city-redispatch")
    for page in (district, city):
        page.context.close()


def test_the_street_dispatches_a_filed_case_to_a_unit_it_picks(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    case_id = report(loop["inspector"], small_city).json()["case"]["id"]
    assert act(loop["street"], case_id, "file").status_code == 200
    case = Case.objects.get(pk=case_id)
    places = set(places_of(case))
    street_unit = Staff.objects.get(user__username="street").unit
    servable_passwords()
    street = live_page(browser, server, "street", "/map/street/")
    open_case(street, case_id)
    street.click(".case-detail button[data-action='dispatch']")
    form = street.locator("form.case-form[data-action='dispatch']")
    picker = form.locator("select[name=unit]")
    # First the routing rules (the button alone did that before), then the units the
    # street may send it to: whose area holds the case, none above the street's tier.
    expect(picker.locator("option").first).to_have_text("按派遣规则自动派遣")
    offered = [
        int(value)
        for value in picker.locator("option").evaluate_all("options => options.map(o => o.value)")
        if value
    ]
    assert offered
    units = Unit.objects.filter(pk__in=offered).select_related("area")
    assert all(u.area_id in places or u.area.tier == Tier.CITY for u in units)
    ranks = [Tier.CELL, Tier.COMMUNITY, Tier.STREET, Tier.DISTRICT, Tier.CITY]
    assert all(ranks.index(Tier(u.tier)) <= ranks.index(Tier(street_unit.tier)) for u in units)
    chosen = offered[-1]
    picker.select_option(str(chosen))
    form.locator("button[type=submit]").click()
    expect(street.locator(".notice.done")).to_contain_text(f"#{case_id}")
    case = Case.objects.get(pk=case_id)
    assert (case.state, case.unit_id) == (State.DISPATCHED, chosen)
    assert case.history.get(action="dispatch").data.get("manual") is True
    street.context.close()
