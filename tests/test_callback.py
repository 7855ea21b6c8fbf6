"""Reply and call-back of 12345 work orders: the unit answers the caller (答复), the hotline
calls back (回访) within its limit and records reached or not (after N tries) and the
caller's satisfaction; 不满意 reopens the case (重办) with new deadlines and its own count.
Every step is in the history and the outbox; the SLA worker chases a late call-back."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, expect

from dispatch import hotline
from dispatch.permissions import allowed_actions
from dispatch.sla import run_due
from gridmgmt import clock
from incidents.models import Case, CaseEvent
from layers.models import Area, Unit
from tests.browser import log_in, servable_passwords
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, act, actions, client_for, event_category, outbox_kinds
from tests.test_browser_handler import PHONE, open_case
from tests.test_browser_hotline import hotline_page

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def limits(db: None) -> None:
    """The limits the migrations seed, again: a transactional test run before (the
    browser's) flushed them."""
    hotline.ensure_defaults()


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def complaint(loop: dict[str, User], city: dict[str, Area], **extra: Any) -> int:
    """A complaint ticket, filed and dispatched to the district's 城管执法, signed for."""
    point = centre(city[INSPECTOR_CELL])
    body = {
        "channel": "phone", "category": event_category("0101").pk, "ticket_type": "complaint",
        "description": "垃圾多日无人清运", "address_text": "华景路", "lon": point.x,
        "lat": point.y, "caller_name": "李四", "caller_phone": "13900139000", **extra,
    }  # fmt: skip
    answer = client_for(loop["hotline"]).post("/api/cases/tickets/", body, format="json")
    case_id = int(answer.json()["case"]["id"])
    unit = Unit.objects.get(pk=loop["enforcement"].staff.unit_id)
    assert act(loop["street"], case_id, "file").status_code == 200
    assert act(loop["district"], case_id, "dispatch", unit=unit.pk).status_code == 200
    assert act(loop["enforcement"], case_id, "sign").status_code == 200
    return case_id


def test_reply_call_back_dissatisfied_reopens_the_case(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    hotline, unit = loop["hotline"], loop["enforcement"]
    with clock.travel(at(23, 10), tick=False):  # Monday
        case_id = complaint(loop, small_city)
        # Nothing to call back before the reply; the hotline may not reply for the unit.
        assert (
            act(hotline, case_id, "callback", reached=True, satisfaction="satisfied").status_code
            == 409
        )
        assert act(hotline, case_id, "reply", reply="x").status_code == 403
        assert act(unit, case_id, "reply", reply="  ").status_code == 400
    with clock.travel(at(24, 9), tick=False):
        answer = act(
            unit, case_id, "reply", reply="已安排清运，明日完成。", expected_state="signed"
        )
        assert answer.status_code == 200, answer.json()
        body = answer.json()
        assert body["state"] == "signed" and body["reply"] == "已安排清运，明日完成。"
        # 回访 within 2 working days of the reply: Thursday at closing time.
        due = dt.datetime.fromisoformat(body["callback_due_at"]).astimezone(SHANGHAI)
        assert due.date() == dt.date(2026, 11, 26)
        assert act(unit, case_id, "reply", reply="again").status_code == 409  # once a round
        case = Case.objects.get(pk=case_id)
        assert "callback" in [t.action for t in allowed_actions(hotline, case)]
        assert "callback" not in [t.action for t in allowed_actions(unit, case)]
    with clock.travel(at(25, 10), tick=False):
        refused = act(hotline, case_id, "callback", reached=True)
        assert refused.status_code == 400 and refused.json()["field"] == "satisfaction"
        answer = act(hotline, case_id, "callback", reached=True, satisfaction="dissatisfied",
                     note="垃圾仍在")  # fmt: skip
        assert answer.status_code == 200, answer.json()
    case = Case.objects.get(pk=case_id)
    # 重办: back to the same unit, dispatched, a new disposal and reply deadline from now.
    assert case.state == "dispatched" and case.unit_id == unit.staff.unit_id
    assert case.reopens == 1 and case.replied_at is None and case.satisfaction == ""
    assert case.dispatched_at == at(25, 10) and case.due_at is not None
    assert case.due_at > at(25, 10) and case.reply_due_at is not None
    assert case.reply_due_at.astimezone(SHANGHAI).date() == dt.date(2026, 12, 4)  # 7 working days
    assert actions(case)[-3:] == ["reply", "callback", "reopen"]
    assert outbox_kinds(case)[-3:] == ["case.reply", "case.callback", "case.reopen"]
    callback = CaseEvent.objects.get(case=case, action="callback")
    assert callback.data["satisfaction"] == "dissatisfied" and callback.data["reached"] is True
    assert callback.actor == hotline and callback.note == "垃圾仍在"
    reopen = CaseEvent.objects.get(case=case, action="reopen")
    assert (reopen.from_state, reopen.to_state, reopen.data["round"]) == ("signed", "dispatched", 1)

    # The second round: sign, reply, satisfied — the case stays with its count.
    with clock.travel(at(26, 9), tick=False):
        assert act(unit, case_id, "sign").status_code == 200
        assert act(unit, case_id, "reply", reply="已清运完毕。").status_code == 200
        assert (
            act(hotline, case_id, "callback", reached=True, satisfaction="basic").status_code == 200
        )
    case.refresh_from_db()
    assert case.state == "signed" and case.reopens == 1 and case.satisfaction == "basic"
    assert case.callback_reached is True and case.hotline_check_at is None


def test_a_call_back_not_reached_after_the_tries_is_recorded_so(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    hotline = loop["hotline"]
    case_id = complaint(loop, small_city)
    act(loop["enforcement"], case_id, "reply", reply="已处理")
    assert (
        act(hotline, case_id, "callback", reached=False, satisfaction="satisfied").status_code
        == 400
    )
    for tries in (1, 2):
        assert act(hotline, case_id, "callback", reached=False).status_code == 200
        case = Case.objects.get(pk=case_id)
        assert case.callback_tries == tries and case.callback_at is None  # call again
    assert act(hotline, case_id, "callback", reached=False).status_code == 200  # third: done
    case = Case.objects.get(pk=case_id)
    assert case.callback_at is not None and case.callback_reached is False
    assert case.callback_tries == 3 and case.reopens == 0 and case.state == "signed"
    assert (
        act(hotline, case_id, "callback", reached=True, satisfaction="satisfied").status_code == 409
    )
    calls = CaseEvent.objects.filter(case=case, action="callback").order_by("id")
    assert [e.data["done"] for e in calls] == [False, False, True]


def test_the_sla_worker_chases_a_late_call_back(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    with clock.travel(at(23, 10), tick=False):
        case_id = complaint(loop, small_city)
        act(loop["enforcement"], case_id, "reply", reply="已处理")
    case = Case.objects.get(pk=case_id)
    assert case.hotline_check_at == case.callback_due_at  # the reply's clock stopped
    with clock.travel(at(25, 17, 59), tick=False):  # Wednesday, before closing
        # (the disposal clock of the case is chased too: 催办, 督办)
        assert (case_id, "callback_overdue") not in run_due()
    with clock.travel(at(26, 9), tick=False):
        assert (case_id, "callback_overdue") in run_due()
    case.refresh_from_db()
    assert case.callback_overdue and case.hotline_check_at is None
    assert actions(case)[-1] == "callback_overdue"


def test_an_inspector_report_has_no_reply_or_call_back(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    from tests.loop import report

    case_id = int(report(loop["inspector"], small_city).json()["case"]["id"])
    act(loop["street"], case_id, "file")
    act(loop["street"], case_id, "dispatch")
    act(loop["street"], case_id, "sign")
    refused = act(loop["street"], case_id, "reply", reply="已处理")
    assert refused.status_code == 409 and "不是12345热线工单" in refused.json()["detail"]


def test_the_hotline_queues_list_tickets_awaiting_reply_and_call_back(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    hotline = client_for(loop["hotline"])
    with clock.travel(at(23, 10), tick=False):
        waiting = complaint(loop, small_city)
        answered = complaint(loop, small_city)
        act(loop["enforcement"], answered, "reply", reply="已处理")
        finished = complaint(loop, small_city)
        act(loop["enforcement"], finished, "reply", reply="已处理")
        act(loop["hotline"], finished, "callback", reached=True, satisfaction="satisfied")

    def queue(name: str) -> list[int]:
        answer = hotline.get("/api/cases/", {"ticket": name})
        assert answer.status_code == 200, answer.json()
        return [c["id"] for c in answer.json()["results"]]

    assert queue("awaiting_reply") == [waiting]
    assert queue("awaiting_callback") == [answered]
    # The call-back script: the unit's reply, with the caller's number for the hotline.
    shown = hotline.get("/api/cases/", {"ticket": "awaiting_callback"}).json()["results"][0]
    assert shown["reply"] == "已处理" and shown["caller_phone"] == "13900139000"
    assert hotline.get("/api/cases/", {"ticket": "later"}).status_code == 400


def test_the_hotline_page_calls_back_and_dissatisfied_reopens_the_case(
    transactional_db: None, loop: dict[str, User], small_city: dict[str, Area],
    browser: Browser, server: str,
) -> None:  # fmt: skip
    # A complaint filed by the hotline, dispatched to the district's 城管执法, which replies.
    hotline.ensure_defaults()
    case_id = complaint(loop, small_city)
    assert act(loop["enforcement"], case_id, "reply", reply="已安排清运。").status_code == 200
    page = hotline_page(browser, server)
    item = page.locator(f"#callback-list li[data-case-id='{case_id}']")
    expect(item).to_contain_text("已安排清运。")  # the script the operator reads out
    expect(item).to_contain_text("13900139000")  # the hotline calls the caller's number
    item.locator("button[data-satisfaction='dissatisfied']").click()
    expect(page.locator("#callback-status")).to_have_text("来电人不满意，案件已重办。")
    expect(page.locator(f"#callback-list li[data-case-id='{case_id}']")).to_have_count(0)
    case = Case.objects.get(pk=case_id)
    assert (case.state, case.reopens, case.unit_id) == (
        "dispatched", 1, loop["enforcement"].staff.unit_id
    )  # fmt: skip
    assert actions(case)[-3:] == ["reply", "callback", "reopen"]
    page.context.close()


def test_the_department_replies_on_its_workbench_and_the_hotline_reopens_on_its_page(
    transactional_db: None, loop: dict[str, User], small_city: dict[str, Area],
    browser: Browser, server: str,
) -> None:  # fmt: skip
    """The issue's loop in the browser: a complaint ticket filed, the department replies
    from its workbench's case panel, the hotline calls back with 不满意, the case reopens."""
    hotline.ensure_defaults()
    servable_passwords()
    for user in loop.values():  # their new password hashes, or their sessions lapse
        user.refresh_from_db()
    point = centre(small_city[INSPECTOR_CELL])
    body = {"channel": "phone", "category": event_category("0101").pk, "ticket_type": "complaint",
            "description": "水管漏水多日", "address_text": "华景路", "lon": point.x,
            "lat": point.y, "caller_phone": "13900139000"}  # fmt: skip
    filed = client_for(loop["hotline"]).post("/api/cases/tickets/", body, format="json")
    case_id = int(filed.json()["case"]["id"])
    water = Unit.objects.get(pk=loop["department"].staff.unit_id)
    assert act(loop["city"], case_id, "file").status_code == 200
    assert act(loop["city"], case_id, "dispatch", unit=water.pk).status_code == 200
    assert act(loop["department"], case_id, "sign").status_code == 200

    handler = log_in(browser, server, "department", viewport=PHONE, is_mobile=True, has_touch=True)
    handler.wait_for_url("**/map/handle/")
    open_case(handler, "in_progress", case_id)
    handler.click(".case-panel .actions button[data-action='reply']")
    form = handler.locator("form.case-form[data-action='reply']")
    form.locator("textarea[name=reply]").fill("已更换漏水管段，请放心。")
    form.locator("button[type=submit]").click()
    expect(handler.locator(".notice.done")).to_contain_text(f"#{case_id}")
    assert Case.objects.get(pk=case_id).reply == "已更换漏水管段，请放心。"
    handler.context.close()

    page = hotline_page(browser, server)
    item = page.locator(f"#callback-list li[data-case-id='{case_id}']")
    expect(item).to_contain_text("已更换漏水管段，请放心。")
    item.locator("button[data-satisfaction='dissatisfied']").click()
    expect(page.locator("#callback-status")).to_have_text("来电人不满意，案件已重办。")
    case = Case.objects.get(pk=case_id)
    assert (case.state, case.reopens, case.unit_id) == ("dispatched", 1, water.pk)
    assert actions(case)[-4:] == ["sign", "reply", "callback", "reopen"]
    page.context.close()
