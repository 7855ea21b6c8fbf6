"""The hotline page in Debian's chromium (issue 13): a new address clears the place chosen
before, an uncertain candidate is confirmed by hand before filing, a point is placed in a
street found by name and its areas are shown, and the caller's earlier tickets are found
by phone number."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect

from incidents.models import Case
from layers.models import Address, Area
from tests.browser import log_in, on_page, servable_passwords
from tests.cast import CELLS, centre
from tests.loop import INSPECTOR_CELL, OTHER_STREET_CELL, client_for, event_category
from tests.test_browser_intake import MISSPELLED, REGISTER, WANTED

# Few words in common with any standard address: every candidate scores low.
VAGUE = "华景那边"


@pytest.fixture
def register(small_city: dict[str, Area]) -> dict[str, Address]:
    return {
        text: Address.objects.create(code=f"A{n}", text=text, geom=centre(small_city[CELLS[key]]))
        for n, (text, key) in enumerate(REGISTER)
    }


def hotline_page(browser: Browser, server: str) -> Page:
    servable_passwords()
    page = log_in(browser, server, "hotline", viewport={"width": 1400, "height": 900})
    page.goto("/map/hotline/")
    return page


def fill_ticket(page: Page) -> None:
    page.select_option("#category", str(event_category("0101").pk))
    page.fill("#description", "小区门口垃圾两天没人清运")


def test_a_new_address_clears_the_place_chosen_before(
    transactional_db: None,
    loop: dict[str, User],
    register: dict[str, Address],
    browser: Browser,
    server: str,
) -> None:
    page = hotline_page(browser, server)
    page.fill("#address-text", MISSPELLED)
    page.click(f"#candidates button:has-text('{WANTED}')")
    expect(page.locator("#place")).to_contain_text(WANTED)
    expect(page.locator(".leaflet-marker-draggable")).to_have_count(1)
    fill_ticket(page)

    # The next caller's words: the previous caller's address is no longer the place.
    page.fill("#address-text", "同和路8号")
    expect(page.locator("#place")).not_to_contain_text(WANTED)
    expect(page.locator(".leaflet-marker-draggable")).to_have_count(0)
    page.click("#submit-ticket")
    expect(page.locator("#form-error")).to_contain_text("尚未确定位置")
    page.wait_for_timeout(300)
    assert Case.objects.count() == 0
    page.context.close()


def test_an_uncertain_candidate_is_confirmed_before_filing(
    transactional_db: None,
    loop: dict[str, User],
    register: dict[str, Address],
    browser: Browser,
    server: str,
) -> None:
    answer = client_for(loop["hotline"]).get("/api/geocode/", {"q": VAGUE, "limit": "8"}).json()
    top = answer["candidates"][0]
    assert top["score"] < settings.HOTLINE_UNCERTAIN_SCORE  # the case this test is about

    page = hotline_page(browser, server)
    page.fill("#address-text", VAGUE)
    first = page.locator("#candidates button").first
    expect(first).to_contain_text(top["text"])
    expect(first.locator(".uncertain-badge")).to_have_text("不确定")
    first.click()
    expect(page.locator("#place .uncertain-badge")).to_have_text("不确定")
    fill_ticket(page)
    page.click("#submit-ticket")
    expect(page.locator("#form-error")).to_contain_text("匹配度低")
    page.wait_for_timeout(300)
    assert Case.objects.count() == 0

    page.click("#confirm-place")
    expect(page.locator("#confirm-place")).to_be_hidden()
    expect(page.locator("#place .uncertain-badge")).to_have_text("已确认")
    page.click("#submit-ticket")
    filed = page.locator("#result [data-case-id]")
    expect(filed).to_be_visible()
    case = Case.objects.get(pk=int(filed.get_attribute("data-case-id") or 0))
    assert case.address_id == top["id"]
    page.context.close()


def test_a_certain_candidate_needs_no_confirmation(
    transactional_db: None,
    loop: dict[str, User],
    register: dict[str, Address],
    browser: Browser,
    server: str,
) -> None:
    page = hotline_page(browser, server)
    page.fill("#address-text", WANTED)
    button = page.locator(f"#candidates button:has-text('{WANTED}')").first
    expect(button).to_be_visible()
    expect(button.locator(".uncertain-badge")).to_have_count(0)
    button.click()
    expect(page.locator("#confirm-place")).to_be_hidden()
    fill_ticket(page)
    page.click("#submit-ticket")
    expect(page.locator("#result [data-case-id]")).to_be_visible()
    page.context.close()


def test_a_point_is_placed_in_a_street_found_by_name(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    page = hotline_page(browser, server)
    page.fill("#address-text", "没有登记的巷子")
    expect(page.locator("#search-status")).to_contain_text("没有找到")
    page.wait_for_function(on_page("() => !$map._animatingZoom"))
    page.fill("#area-text", "天河区第2街道")
    page.press("#area-text", "Enter")
    street_button = page.locator("#areas button").first  # the street, then its communities
    expect(street_button).to_contain_text("天河区第2街道 · 天河区")
    street_button.click()
    expect(page.locator("#area-status")).to_contain_text("天河区第2街道")
    street = small_city[OTHER_STREET_CELL[:9]]
    page.wait_for_function(on_page("() => !$map._animatingZoom"))
    shown = page.evaluate(on_page("() => $map.getCenter()"))
    west, south, east, north = street.geom.extent
    assert west <= shown["lng"] <= east and south <= shown["lat"] <= north

    page.locator(".folium-map").click()  # the middle of the map: inside the street
    place = page.locator("#place .point-areas")
    expect(place).to_contain_text("天河区 / 天河区第2街道 / 天河区第2街道第")
    shown_areas = place.inner_text()
    fill_ticket(page)
    page.click("#submit-ticket")
    filed = page.locator("#result [data-case-id]")
    expect(filed).to_be_visible()
    case = Case.objects.get(pk=int(filed.get_attribute("data-case-id") or 0))
    assert case.address is None and case.cell.code.startswith(street.code)
    assert shown_areas.endswith(" / " + case.cell.name)  # what was shown is where it is
    page.context.close()


def test_the_callers_earlier_tickets_are_found_by_phone(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    browser: Browser,
    server: str,
) -> None:
    point = centre(small_city[INSPECTOR_CELL])
    hotline = client_for(loop["hotline"])
    ids = []
    for phone, words in [("13812345678", "路灯不亮"), ("13812345678", "井盖松动"),
                         ("13900000000", "噪音扰民")]:  # fmt: skip
        body = {
            "channel": "phone", "category": event_category("0101").pk, "description": words,
            "address_text": "华景路", "lon": point.x, "lat": point.y, "caller_phone": phone,
        }  # fmt: skip
        answer = hotline.post("/api/cases/tickets/", body, format="json")
        assert answer.status_code == 201
        ids.append(answer.json()["case"]["id"])

    page = hotline_page(browser, server)
    page.fill("#caller-phone", "138 1234 5678")
    page.click("#caller-history-search")
    rows = page.locator("#caller-history li")
    expect(rows).to_have_count(2)
    found = {int(r.get_attribute("data-case-id") or 0) for r in rows.all()}
    assert found == set(ids[:2])
    expect(page.locator("#caller-history")).to_contain_text("井盖松动")
    expect(page.locator("#caller-history")).not_to_contain_text("噪音扰民")

    page.fill("#caller-phone", "13700000000")
    page.press("#caller-phone", "Enter")
    expect(page.locator("#caller-history")).to_contain_text("该号码没有以往工单")
    page.context.close()
