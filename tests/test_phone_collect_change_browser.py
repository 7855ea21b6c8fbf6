"""一级采集 of a change from the phone in Debian's chromium (issue 15, item 7): the inspector
picks a building on the map's view, types only what changed, and the proposal names the
record and carries that value alone (its position stays unless asked to move).

A module of its own for its test server (see tests/test_phone_collect_offline_browser.py)."""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import Browser, expect

from layers.models import Area, Building
from stewardship import services
from stewardship.models import Proposal
from tests.browser import inspector_page, servable_passwords
from tests.cast import centre
from tests.loop import INSPECTOR_CELL


def test_the_inspector_proposes_a_change_of_a_record_picked_nearby(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    here = centre(small_city[INSPECTOR_CELL])
    building = Building.objects.create(code="B500", name="旧仓库", geom=here)
    servable_passwords()
    phone = inspector_page(browser, server, small_city)
    phone.select_option("#collect-layer", "buildings")
    option = phone.locator(f"#collect-nearby option[value='{building.pk}']")
    expect(option).to_have_text(f"#{building.pk} B500 旧仓库")
    phone.select_option("#collect-nearby", str(building.pk))
    expect(phone.locator("#collect-record")).to_have_value(str(building.pk))
    expect(phone.locator("#collect-field-name")).to_have_attribute("placeholder", "旧仓库")
    phone.fill("#collect-field-name", "社区仓库")
    phone.click("#submit-proposal")
    expect(phone.locator("#proposals li[data-status='pending']")).to_contain_text("社区仓库")

    proposal = Proposal.objects.get()
    assert (proposal.object_id, proposal.values, proposal.geom) == (
        building.pk, {"name": "社区仓库"}, None
    )  # fmt: skip
    services.accept(user=loop["data_admin"], pk=proposal.pk)
    building.refresh_from_db()
    assert (building.name, building.code, building.geom) == ("社区仓库", "B500", here)
    phone.context.close()
