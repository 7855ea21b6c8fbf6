"""一级采集 offline in Debian's chromium (issue 15, item 7): a proposal made without network
waits in the phone's one outbox (queue.js) and is sent once when the network is back.

A module of its own, so its test server is its own: the server process caches content
types (ContentType.objects.get_for_model), and a transactional test before it in the same
module would have flushed and re-created them under new ids."""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import Browser, expect

from layers.models import Area
from stewardship.models import Proposal
from tests.browser import inspector_page, servable_passwords
from tests.test_phone_collect_browser import fill_building


def test_a_proposal_made_offline_is_queued_and_sent_once_back_online(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    servable_passwords()
    phone = inspector_page(browser, server, small_city)
    expect(phone.locator("#proposals li.hint")).to_have_text("暂无采集。")
    phone.context.set_offline(True)
    fill_building(phone, "B300", "垃圾收集点")
    phone.click("#submit-proposal")
    queued = phone.locator("#proposals li[data-state='queued']")
    expect(queued).to_have_count(1)
    client_id = queued.get_attribute("data-uuid")
    assert client_id
    phone.wait_for_timeout(500)
    assert not Proposal.objects.exists()
    # A report queued beside it stays a report: one queue, each kind to its own API.
    expect(phone.locator("#reports li[data-state='queued']")).to_have_count(0)

    phone.context.set_offline(False)
    # Sent on the `online` event (a loaded machine may take a while to upload the photo).
    expect(phone.locator("#proposals li[data-status='pending']")).to_contain_text(
        "垃圾收集点", timeout=20000
    )
    expect(phone.locator("#proposals li[data-state='queued']")).to_have_count(0)
    proposal = Proposal.objects.get()  # exactly one
    assert (proposal.client_id, proposal.proposer) == (client_id, loop["inspector"])
    assert proposal.values["code"] == "B300" and proposal.photo
    phone.context.close()
