"""一级采集 from the inspector's phone page in Debian's chromium (issue 15, item 7): a
proposal with its photo, reviewed and accepted on the review page, becomes a record with
its source and field history; a rejection's reason reaches the inspector's 我的采集 list
(and their inbox). Offline: tests/test_phone_collect_offline_browser.py."""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import Browser, FilePayload, Page, expect

from layers.models import Area, Building
from stewardship import services
from stewardship.models import FieldChange, Proposal, ProposalStatus, Source, SourceKind
from tests.browser import inspector_page, log_in, screenshot, servable_passwords
from tests.cast import centre
from tests.loop import INSPECTOR_CELL
from tests.test_browser_intake import camera_png

PHOTO: FilePayload = {"name": "kiosk.png", "mimeType": "image/png", "buffer": camera_png(40, 30)}


def fill_building(page: Page, code: str, name: str, *, with_photo: bool = True) -> None:
    page.select_option("#collect-layer", "buildings")
    page.fill("#collect-field-code", code)
    page.fill("#collect-field-name", name)
    page.fill("#collect-note", "新建的岗亭")
    if with_photo:
        page.set_input_files("#collect-photo", files=[PHOTO])
        expect(page.locator("#collect-thumb img")).to_have_count(1)


def review_page(browser: Browser, server: str) -> Page:
    page = log_in(browser, server, "data_admin", viewport={"width": 1280, "height": 900})
    page.goto("/map/data/review/")
    return page


def test_a_phone_proposal_with_a_photo_is_accepted_into_the_layer_with_its_history(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    servable_passwords()
    phone = inspector_page(browser, server, small_city)
    errors: list[str] = []
    phone.on("pageerror", lambda error: errors.append(str(error)))
    fill_building(phone, "B100", "新建岗亭")
    phone.click("#submit-proposal")
    pending = phone.locator("#proposals li[data-status='pending']")
    expect(pending).to_contain_text("新建岗亭")
    proposal = Proposal.objects.get()
    assert proposal.values == {"code": "B100", "name": "新建岗亭"}
    assert proposal.cell is not None and proposal.cell.code == INSPECTOR_CELL
    assert proposal.photo and proposal.photo_extension == ".png" and proposal.client_id
    assert proposal.geom is not None
    screenshot(phone, "phone-collect")

    review = review_page(browser, server)
    item = review.locator(f"li.proposal[data-id='{proposal.pk}']")
    # The reviewer sees the photo (loaded, not a broken image) and where it was taken.
    image = item.locator("a.photo img")
    expect(image).to_be_visible()
    review.wait_for_function(
        "img => img.complete && img.naturalWidth === 40", arg=image.element_handle()
    )
    expect(item.locator(".position")).to_contain_text(f"{proposal.geom.x:.6f}")
    screenshot(review, "review-with-photo")
    item.locator("button[data-action=accept]").click()
    expect(review.locator("li.muted")).to_have_text("没有待审核的采集建议。")

    building = Building.objects.get(code="B100")
    assert (building.name, building.cell.code) == ("新建岗亭", INSPECTOR_CELL)
    source = Source.objects.get(kind=SourceKind.PROPOSAL)
    assert (source.proposal_id, source.user, source.system) == (
        proposal.pk, loop["inspector"], "proposal"
    )  # fmt: skip
    changed = set(
        FieldChange.objects.filter(source=source, object_id=building.pk).values_list(
            "field", flat=True
        )
    )
    assert {"code", "name", "geom"} <= changed
    history = review.request.get(f"/api/stewardship/records/buildings/{building.pk}/").json()
    assert history["history"][0]["kind"] == "proposal"

    # The inspector's phone: the proposal accepted, the record named, told in the inbox.
    phone.reload()
    accepted = phone.locator(f"#proposals li[data-proposal-id='{proposal.pk}']")
    expect(accepted).to_have_attribute("data-status", "accepted")
    expect(accepted).to_contain_text(f"#{building.pk}")
    expect(phone.locator("#inbox")).to_have_attribute("data-unread", "1")
    assert errors == []
    phone.context.close()
    review.context.close()


def test_a_rejection_shows_its_reason_to_the_inspector(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    made = services.propose(
        user=loop["inspector"],
        layer="buildings",
        record=None,
        values={"code": "B200", "name": "报刊亭"},
        geom=centre(small_city[INSPECTOR_CELL]),
    )
    servable_passwords()
    phone = inspector_page(browser, server, small_city)
    mine = phone.locator(f"#proposals li[data-proposal-id='{made.pk}']")
    expect(mine).to_have_attribute("data-status", "pending")
    expect(phone.locator("body[data-live='open']")).to_have_count(1)

    review = review_page(browser, server)
    item = review.locator(f"li.proposal[data-id='{made.pk}']")
    item.locator("input[data-field=reason]").fill("该报刊亭已拆除")
    item.locator("button[data-action=reject]").click()
    expect(item).to_have_count(0)
    assert Proposal.objects.get(pk=made.pk).status == ProposalStatus.REJECTED

    # Without a reload: the inbox's live notice brings the outcome to the list.
    expect(mine).to_have_attribute("data-status", "rejected")
    expect(mine.locator(".reason")).to_have_text("驳回原因：该报刊亭已拆除")
    expect(phone.locator("#inbox")).to_have_attribute("data-unread", "1")
    assert not Building.objects.filter(code="B200").exists()
    screenshot(phone, "phone-collect-rejected")
    phone.context.close()
    review.context.close()
