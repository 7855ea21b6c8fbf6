"""采集建议审核 in Debian's chromium: the data administrator rejects one proposal (a reason
is required) and accepts another; the database is checked after each."""

from __future__ import annotations

from django.contrib.auth.models import User
from playwright.sync_api import Browser, expect

from layers.models import Area, Building
from stewardship import services
from stewardship.models import Proposal
from tests.browser import log_in, screenshot, servable_passwords
from tests.cast import CELLS, centre


def test_the_data_administrator_rejects_with_a_reason_and_accepts(
    transactional_db: None,
    cast: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    point = centre(small_city[CELLS["own"]])
    made = [
        services.propose(
            user=cast["inspector"],
            layer="buildings",
            record=None,
            values={"code": code, "name": name},
            geom=point,
        )
        for code, name in [("B1", "仓库"), ("B2", "岗亭")]
    ]
    servable_passwords()
    page = log_in(browser, server, "data_admin", viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/map/data/review/")
    items = page.locator("li.proposal")
    expect(items).to_have_count(2)
    expect(items.first.locator("dt")).to_have_text(["建筑物编码", "名称"])

    older = page.locator(f"li.proposal[data-id='{made[0].pk}']")
    older.locator("button[data-action=reject]").click()
    expect(page.locator(".status")).to_have_text("请填写驳回原因。")
    assert Proposal.objects.get(pk=made[0].pk).status == "pending"
    older.locator("input[data-field=reason]").fill("重复采集")
    older.locator("button[data-action=reject]").click()
    expect(items).to_have_count(1)
    rejected = Proposal.objects.get(pk=made[0].pk)
    assert (rejected.status, rejected.reason) == ("rejected", "重复采集")

    page.locator(f"li.proposal[data-id='{made[1].pk}'] button[data-action=accept]").click()
    expect(page.locator("li.muted")).to_have_text("没有待审核的采集建议。")
    assert Building.objects.get(code="B2").cell == small_city[CELLS["own"]]
    screenshot(page, "stewardship-review")
    assert errors == []
