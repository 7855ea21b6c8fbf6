"""拆分 by clicks in Debian's chromium: the district's command centre splits a filed
report into two child cases in the split form — 暴露垃圾 to the street office, 占道经营 to
its 城管执法 — and the panel lists them, dispatched; the parent closes with its last
child. Checked in the database too."""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import Browser, expect

from incidents.models import Case, State
from layers.models import Area
from tests.browser import live_page, screenshot, servable_passwords
from tests.loop import act, actions, event_category, photo, report, unit_id_of


def test_the_district_splits_a_report_for_two_departments(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    parent = int(report(loop["inspector"], small_city).json()["case"]["id"])
    assert act(loop["street"], parent, "file").status_code == 200
    servable_passwords()
    garbage, vending = event_category("0101"), event_category("0501")

    district = live_page(browser, server, "district", "/map/command/")
    district.locator(f".awaiting li[data-case='{parent}'] a").click()
    panel = district.locator(f".case-detail[data-case='{parent}']")
    panel.locator("button[data-action='split']").click()
    form = district.locator("form.case-form[data-action='split']")
    rows = form.locator("li.child")
    expect(rows).to_have_count(2)
    rows.nth(0).locator("select[name=child_category]").select_option(str(garbage.pk))
    rows.nth(0).locator("select[name=child_unit]").select_option(str(unit_id_of("street")))
    rows.nth(1).locator("select[name=child_category]").select_option(str(vending.pk))
    rows.nth(1).locator("select[name=child_unit]").select_option(str(unit_id_of("enforcement")))
    rows.nth(1).locator("input[name=child_description]").fill("门店占道经营")
    form.locator("textarea[name=note]").fill("垃圾与占道分别办理")
    form.locator("button[type=submit]").click()
    expect(panel).to_have_attribute("data-state", State.SPLIT)
    children = panel.locator(".case-children li")
    expect(children).to_have_count(2)
    expect(children.filter(has_text="门店占道经营")).to_have_count(0)  # the list names categories
    screenshot(district, "split-parent")

    made = list(Case.objects.filter(parent_id=parent).order_by("pk"))
    assert [(c.category_id, c.unit_id, c.state) for c in made] == [
        (garbage.pk, unit_id_of("street"), State.DISPATCHED),
        (vending.pk, unit_id_of("enforcement"), State.DISPATCHED),
    ]
    assert made[1].description == "门店占道经营"
    assert actions(Case.objects.get(pk=parent))[-1] == "split"

    # Each child goes its own way; the parent closes with the last.
    for child, handler in ((made[0], loop["street"]), (made[1], loop["enforcement"])):
        for user, action, body in (
            (handler, "sign", {}),
            (handler, "handle", {"note": "已处置", "photos": [photo()]}),
            (loop["inspector"], "verify", {"passed": True}),
            (loop["street"], "close", {}),
        ):
            fresh = User.objects.get(pk=user.pk)  # its password hash was changed above
            assert act(fresh, child.pk, action, **body).status_code == 200, action
    assert Case.objects.get(pk=parent).state == State.CLOSED
    district.context.close()
