"""协办 by clicks in Debian's chromium: the district's command centre dispatches a case to
the street office (主办) and ticks its 城管执法 as a co-unit (协办) in the dispatch form;
城管执法 finds it in its workbench's 协办 queue, signs for its part and reports on it with
a note and a photo; the street office, the lead, signs and reports: the case goes to
verification, and the panel shows the co-unit's part done with its photo. Every step is
checked in the database too."""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import Browser, FilePayload, expect

from dispatch.models import CasePart
from incidents.models import Case, State
from layers.models import Area
from tests.browser import live_page, screenshot, servable_passwords
from tests.loop import act, actions, report, unit_id_of
from tests.test_browser_handler import real_png


def test_a_co_unit_is_dispatched_reports_its_part_and_the_lead_closes_its_own(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    case_id = int(report(loop["inspector"], small_city).json()["case"]["id"])
    assert act(loop["street"], case_id, "file").status_code == 200
    servable_passwords()
    street_unit, enforcement_unit = unit_id_of("street"), unit_id_of("enforcement")

    # The district dispatches from its 待我决定 queue: the street office leads, 城管执法 helps.
    district = live_page(browser, server, "district", "/map/command/")
    district.locator(f".awaiting li[data-case='{case_id}'] a").click()
    panel = district.locator(f".case-detail[data-case='{case_id}']")
    panel.locator("button[data-action='dispatch']").click()
    form = district.locator("form.case-form[data-action='dispatch']")
    form.locator("select[name=unit]").select_option(str(street_unit))
    form.locator(f"input[name=co_units][value='{enforcement_unit}']").check()
    form.locator("button[type=submit]").click()
    expect(district.locator(".notice.done")).to_contain_text(f"#{case_id}")
    expect(panel.locator(f".case-parts li.part[data-unit='{enforcement_unit}']")).to_have_attribute(
        "data-state", "dispatched"
    )
    case = Case.objects.get(pk=case_id)
    assert (case.state, case.unit_id) == (State.DISPATCHED, street_unit)
    assert list(CasePart.objects.filter(case=case).values_list("unit_id", "state")) == [
        (enforcement_unit, "dispatched")
    ]

    # 城管执法: the case is in its 协办 queue; it signs for its part, then reports on it.
    helper = live_page(browser, server, "enforcement", "/map/handle/")
    helper.click("[data-queue='co']")
    helper.click(f".queue .case-row[data-case='{case_id}']")
    mine = helper.locator(f".case-panel[data-case='{case_id}']")
    expect(mine.locator(".actions button")).to_have_count(1)
    mine.locator("button[data-action='co_sign']").click()
    expect(mine.locator(f".case-parts li.part[data-unit='{enforcement_unit}']")).to_have_attribute(
        "data-state", "signed"
    )
    mine.locator("button[data-action='co_handle']").click()
    report_form = helper.locator("form.case-form[data-action='co_handle']")
    report_form.locator("textarea[name=note]").fill("已清理占道摊点")
    report_form.locator("input[name=photos]").set_input_files(
        FilePayload(name="part.png", mimeType="image/png", buffer=real_png())
    )
    report_form.locator("button[type=submit]").click()
    done = mine.locator(f".case-parts li.part[data-unit='{enforcement_unit}']")
    expect(done).to_have_attribute("data-state", "handled")
    expect(done.locator(".photo-strip img")).to_have_count(1)
    expect(mine.locator(".actions button")).to_have_count(0)
    part = CasePart.objects.get(case=case)
    assert (part.state, part.note) == ("handled", "已清理占道摊点")
    assert Case.objects.get(pk=case_id).state == State.DISPATCHED  # the lead's state
    screenshot(helper, "counit-part-handled")

    # The street office, the lead, signs and reports: the case goes to verification.
    lead = live_page(browser, server, "street", "/map/handle/")
    lead.click("[data-queue='to_sign']")
    lead.click(f".queue .case-row[data-case='{case_id}']")
    own = lead.locator(f".case-panel[data-case='{case_id}']")
    shown_part = own.locator(".case-parts li.part[data-state='handled']")
    expect(shown_part).to_contain_text("已清理占道摊点")
    own.locator("button[data-action='sign']").click()
    expect(own).to_have_attribute("data-state", State.SIGNED)
    own.locator("button[data-action='handle']").click()
    lead_form = lead.locator("form.case-form[data-action='handle']")
    lead_form.locator("textarea[name=note]").fill("已清理")
    lead_form.locator("input[name=photos]").set_input_files(
        FilePayload(name="site.png", mimeType="image/png", buffer=real_png())
    )
    lead_form.locator("button[type=submit]").click()
    expect(own).to_have_attribute("data-state", State.HANDLED)
    case.refresh_from_db()
    assert case.state == State.HANDLED and case.verify_due_at is not None
    assert actions(case)[-5:] == ["co_dispatch", "co_sign", "co_handle", "sign", "handle"]
    for page in (district, helper, lead):
        page.context.close()
