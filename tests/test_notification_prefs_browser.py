"""Notification preferences and the caller's SMS opt-in in Debian's chromium (issue 16,
item 3): a user reaches 通知设置 from the inbox, chooses per kind of message how they are
told (SMS needs a phone number) and the language of what leaves the site; the hotline
files a ticket whose caller asked for an SMS at closure, and one whose caller did not."""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import Browser, expect

from incidents.models import Case
from layers.models import Address, Area
from notifications.models import Preference
from notifications.rules import caller_opted_in
from tests.browser import log_in, screenshot, servable_passwords
from tests.cast import CELLS, centre
from tests.loop import event_category
from tests.test_browser_intake import WANTED


def test_a_user_chooses_how_each_kind_of_message_reaches_them(
    transactional_db: None, loop: dict[str, User], browser: Browser, server: str
) -> None:
    servable_passwords()
    page = log_in(browser, server, "street", viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.click(".inbox-toggle")
    page.click("a.inbox-settings")
    page.wait_for_url("**/map/preferences/")
    assigned = page.locator("tr[data-kind='assigned']")
    expect(assigned.locator("th")).to_have_text("新派遣案件")
    # No row yet: e-mail by default (the user has no address, so nothing is sent yet).
    expect(assigned.locator("input[value='email']")).to_be_checked()

    assigned.locator("input[value='sms']").check()
    page.locator("tr[data-kind='warning'] input[value='inbox']").check()
    page.click("#preferences-form button[type=submit]")
    expect(page.locator(".preference-field .error")).to_have_text(
        ["选择邮件通知需要填写电子邮箱。", "选择短信通知需要填写手机号码。"]
    )
    assert not Preference.objects.filter(user=loop["street"]).exists()

    page.fill("#id_email", "street@example.org")
    page.fill("#id_phone", "13800000000")
    page.select_option("#id_language", "en")
    page.check("#id_closed")
    page.click("#preferences-form button[type=submit]")
    expect(page.locator("p.status")).to_have_text("通知设置已保存。")
    mine = Preference.objects.get(user=loop["street"])
    assert (mine.channels["assigned"], mine.channels["warning"], mine.channels["overdue"]) == (
        "sms", "inbox", "email"
    )  # fmt: skip
    assert (mine.phone, mine.language, mine.closed) == ("13800000000", "en", True)
    assert User.objects.get(username="street").email == "street@example.org"
    # The page shows what was saved.
    expect(page.locator("tr[data-kind='assigned'] input[value='sms']")).to_be_checked()
    expect(page.locator("#id_language")).to_have_value("en")
    screenshot(page, "notification-preferences")
    assert errors == []
    page.context.close()


def test_the_hotline_records_the_callers_sms_opt_in(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    Address.objects.create(code="A1", text=WANTED, geom=centre(small_city[CELLS["own"]]))
    servable_passwords()
    page = log_in(browser, server, "hotline", viewport={"width": 1400, "height": 900})
    page.goto("/map/hotline/")
    filed = []
    for phone, opted in [("13900000001", True), ("", True), ("13900000002", False)]:
        page.fill("#address-text", WANTED)
        page.locator(f"#candidates button:has-text('{WANTED}')").first.click()
        page.select_option("#category", str(event_category("0101").pk))
        page.fill("#description", "小区门口垃圾两天没人清运")
        page.fill("#caller-phone", phone)
        if opted:
            page.check("#notify-on-close")
        page.click("#submit-ticket")
        if not phone:
            # An SMS needs a number: asked for, nothing filed.
            expect(page.locator("#form-error")).to_have_text("结案短信告知需要填写联系电话。")
            page.uncheck("#notify-on-close")
            page.fill("#caller-phone", "13900000009")
            page.check("#notify-on-close")
            page.click("#submit-ticket")
        result = page.locator("#result [data-case-id]")
        expect(result).to_be_visible()
        filed.append(int(result.get_attribute("data-case-id") or 0))
        expect(page.locator("#notify-on-close")).not_to_be_checked()  # the form starts afresh
    cases = [Case.objects.get(pk=pk) for pk in filed]
    assert [caller_opted_in(case) for case in cases] == [True, True, False]
    assert [case.caller_phone for case in cases] == ["13900000001", "13900000009", "13900000002"]
    page.context.close()
