"""12345 work orders: ticket types with their reply limits as data, a stable searchable
ticket number, 直接办结 of a consultation, and the SLA worker chasing the reply deadline."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, expect

from dispatch import hotline
from dispatch.models import HotlineTerm
from dispatch.permissions import allowed_actions
from dispatch.sla import run_due
from gridmgmt import clock
from incidents.models import Case, CaseEvent
from layers.models import Area
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, act, actions, client_for, event_category, outbox_kinds
from tests.test_browser_hotline import fill_ticket, hotline_page, register  # noqa: F401
from tests.test_browser_intake import WANTED

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def limits(db: None) -> None:
    """The limits the migrations seed, again: a transactional test run before (the
    browser's) flushed them."""
    hotline.ensure_defaults()


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def ticket(user: User, city: dict[str, Area], **extra: Any) -> dict[str, Any]:
    point = centre(city[INSPECTOR_CELL])
    body = {
        "channel": "phone",
        "category": event_category("0101").pk,
        "description": "小区门口垃圾堆积",
        "address_text": "华景路",
        "lon": point.x,
        "lat": point.y,
        "datum": "wgs84",
        "caller_name": "张三",
        "caller_phone": "13800138000",
        **extra,
    }
    response = client_for(user).post("/api/cases/tickets/", body, format="json")
    assert response.status_code == 201, response.json()
    return dict(response.json()["case"])


def test_a_typed_ticket_gets_a_stable_number_and_its_reply_deadline(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    with clock.travel(at(23, 10), tick=False):  # Monday
        general = ticket(loop["hotline"], small_city, ticket_type="complaint")
        utilities = ticket(loop["hotline"], small_city, ticket_type="help", reply_term="utilities")
        urgent = ticket(loop["hotline"], small_city, ticket_type="help", urgent=True)
    # The number: the intake's local date and the case id, zero-padded.
    assert general["ticket_no"] == f"20261123-{general['id']:07d}"
    assert general["ticket_type"] == "complaint" and general["ticket_type_label"] == "投诉"
    # 一般: 7 working days, the day of intake not counted → Wednesday 2 Dec, closing time.
    assert general["reply_term"] == "general"
    due = dt.datetime.fromisoformat(general["reply_due_at"]).astimezone(SHANGHAI)
    assert due.date() == dt.date(2026, 12, 2)
    # 水电气: 24 hours on the clock; 紧急: 2 hours, whatever the operator picked.
    assert dt.datetime.fromisoformat(utilities["reply_due_at"]) == at(24, 10)
    assert urgent["reply_term"] == "urgent"
    assert dt.datetime.fromisoformat(urgent["reply_due_at"]) == at(23, 12)
    # 立案时限 (dispatch.StageLimit): one working hour from the intake, as every case.
    assert dt.datetime.fromisoformat(general["file_due_at"]) == at(23, 11)
    # The number does not change as the case moves, and finds the ticket.
    act(loop["street"], general["id"], "file")
    case = Case.objects.get(pk=general["id"])
    assert case.ticket_no == general["ticket_no"]
    found = client_for(loop["hotline"]).get("/api/cases/", {"q": general["ticket_no"]}).json()
    assert [c["id"] for c in found["results"]] == [general["id"]]
    # The caller stays masked for the street office, as for any ticket.
    shown = client_for(loop["street"]).get(f"/api/cases/{general['id']}/").json()
    assert shown["caller_phone"] != "13800138000" and shown["ticket_no"] == general["ticket_no"]


def test_the_limits_are_data_edited_like_any_other(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    HotlineTerm.objects.filter(term="utilities").update(reply_limit=12)
    with clock.travel(at(23, 10), tick=False):
        case = ticket(loop["hotline"], small_city, ticket_type="help", reply_term="utilities")
    assert dt.datetime.fromisoformat(case["reply_due_at"]) == at(23, 22)


def test_an_untyped_ticket_has_no_number_and_no_reply_clock(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    case = ticket(loop["hotline"], small_city)
    assert case["ticket_type"] == "" and case["reply_due_at"] is None
    assert Case.objects.get(pk=case["id"]).hotline_check_at is None


@pytest.mark.parametrize(
    ("body", "field"),
    [({"ticket_type": "rumour"}, "ticket_type"), ({"reply_term": "general"}, "ticket_type")],
)
def test_a_wrong_ticket_type_or_a_term_without_type_is_refused(
    loop: dict[str, User], small_city: dict[str, Area], body: dict[str, str], field: str
) -> None:
    point = centre(small_city[INSPECTOR_CELL])
    data = {"channel": "phone", "category": event_category("0101").pk, "description": "x",
            "address_text": "华景路", "lon": point.x, "lat": point.y, **body}  # fmt: skip
    response = client_for(loop["hotline"]).post("/api/cases/tickets/", data, format="json")
    assert response.status_code == 400
    # A serializer's refusal names its field as DRF does; the service's, in `field`.
    body_out = response.json()
    assert field in body_out or body_out.get("field") == field, body_out
    assert not Case.objects.exists()


def test_the_hotline_closes_a_consultation_on_the_phone(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    consult = ticket(loop["hotline"], small_city, ticket_type="consult")
    complaint = ticket(loop["hotline"], small_city, ticket_type="complaint")
    hotline, street = loop["hotline"], loop["street"]
    offered = [t.action for t in allowed_actions(hotline, Case.objects.get(pk=consult["id"]))]
    assert offered == ["merge", "close_direct"]
    assert "close_direct" not in [
        t.action for t in allowed_actions(hotline, Case.objects.get(pk=complaint["id"]))
    ]
    # Not the street's to do, and not a complaint's.
    assert act(street, consult["id"], "close_direct", reply="x").status_code == 403
    refused = act(hotline, complaint["id"], "close_direct", reply="已解答")
    assert refused.status_code == 409 and "不能直接办结" in refused.json()["detail"]
    assert act(hotline, consult["id"], "close_direct", reply="").status_code == 400

    answer = act(hotline, consult["id"], "close_direct", reply="办理居住证请到街道政务中心。",
                 expected_state="reported")  # fmt: skip
    assert answer.status_code == 200, answer.json()
    case = Case.objects.get(pk=consult["id"])
    assert case.state == "closed" and case.closed_on_time is True and case.unit is None
    assert case.reply == "办理居住证请到街道政务中心。" and case.hotline_check_at is None
    assert actions(case) == ["report", "close_direct"]
    assert outbox_kinds(case) == ["case.report", "case.close_direct"]
    last = CaseEvent.objects.filter(case=case).last()
    assert last is not None and last.actor == hotline and last.to_state == "closed"


def test_the_sla_worker_chases_a_late_reply_once(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    with clock.travel(at(23, 10), tick=False):
        case_id = ticket(loop["hotline"], small_city, ticket_type="help", urgent=True)["id"]
    with clock.travel(at(23, 11, 59), tick=False):
        assert run_due() == []
    with clock.travel(at(23, 12, 1), tick=False):
        assert run_due() == [(case_id, "reply_overdue")]
        assert run_due() == []  # written once
    case = Case.objects.get(pk=case_id)
    assert case.reply_overdue and case.hotline_check_at is None
    assert actions(case)[-1] == "reply_overdue"
    assert outbox_kinds(case)[-1] == "case.reply_overdue"


def test_a_cancelled_ticket_is_not_chased(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    with clock.travel(at(23, 10), tick=False):
        case_id = ticket(loop["hotline"], small_city, ticket_type="help", urgent=True)["id"]
        act(loop["street"], case_id, "cancel", reason="重复来电")
    with clock.travel(at(23, 13), tick=False):
        assert run_due() == [(case_id, "stopped")]
    case = Case.objects.get(pk=case_id)
    assert not case.reply_overdue and case.hotline_check_at is None
    assert actions(case) == ["report", "cancel"]


@pytest.mark.usefixtures("register")  # the standard addresses of the hotline's tests
def test_the_hotline_page_files_a_typed_ticket_and_tells_its_number(
    transactional_db: None,
    loop: dict[str, User],
    browser: Browser,
    server: str,
) -> None:
    hotline.ensure_defaults()
    page = hotline_page(browser, server)
    page.fill("#address-text", WANTED)
    page.click(f"#candidates button:has-text('{WANTED}')")
    fill_ticket(page)
    page.select_option("#ticket-type", "complaint")
    page.select_option("#reply-term", "utilities")
    page.click("#submit-ticket")
    number = page.locator("#result [data-ticket-no]")
    expect(number).to_be_visible()
    case = Case.objects.get()
    assert (case.ticket_type, case.reply_term) == ("complaint", "utilities")
    assert case.ticket_no and number.get_attribute("data-ticket-no") == case.ticket_no
    expect(page.locator("#result")).to_contain_text(f"工单编号：{case.ticket_no}")
    expect(page.locator("#result .reply-due")).to_contain_text("答复时限：")
    # The form is ready for the next caller: no type chosen.
    assert page.input_value("#ticket-type") == ""
    page.context.close()
