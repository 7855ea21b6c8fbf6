"""The whole case loop through the API, as the users run it (issue: the case loop)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User

from dispatch.models import Assignment
from gridmgmt import clock
from incidents.models import Case, Outbox, State
from incidents.outbox import sequence
from layers.models import Address, Area, Unit
from tests.cast import centre
from tests.loop import (
    INSPECTOR_CELL,
    MONDAY_10,
    SHANGHAI,
    act,
    actions,
    client_for,
    event_category,
    outbox_kinds,
    photo,
    report,
)


@clock.travel(MONDAY_10, tick=False)
def test_it_runs_an_inspector_report_to_closure_in_the_street(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    created = report(loop["inspector"], small_city, photos=[photo()])
    assert created.status_code == 201, created.json()
    case_id = created.json()["case"]["id"]
    case = Case.objects.get(pk=case_id)
    assert (case.state, case.cell.code, case.street.code) == (
        State.REPORTED, INSPECTOR_CELL, "440106001",
    )  # fmt: skip
    assert case.photos.count() == 1

    street = loop["street"]
    assert act(street, case_id, "file").status_code == 200
    dispatched = act(street, case_id, "dispatch")
    assert dispatched.status_code == 200, dispatched.json()
    case.refresh_from_db()
    # 暴露垃圾 (city appearance): the demo's rule gives it to the street office of its place.
    assert case.unit is not None and case.unit.area.code == "440106001"
    assignment = Assignment.objects.get(case=case)
    assert assignment.rule is not None and assignment.rule.owner_only
    assert assignment.reason.endswith("→ 属地单位天河区第1街道办事处")
    # 4 working hours from Monday 10:00 with a 12:00–14:00 lunch break: 16:00.
    assert case.due_at == dt.datetime(2026, 11, 23, 16, 0, tzinfo=SHANGHAI)
    assert case.sla_check_at == case.warn_at

    assert act(street, case_id, "sign").status_code == 200
    handled = act(street, case_id, "handle", note="已清理", photos=[photo("after.png")])
    assert handled.status_code == 200, handled.json()
    case.refresh_from_db()
    # The reporter verifies: an inspector other than the handler.
    assert case.verifier == loop["inspector"]
    # The handling deadline is done with; the verification stage's own deadline is chased.
    assert case.verify_due_at is not None
    assert case.sla_check_at is not None and case.sla_check_at < case.verify_due_at
    assert act(loop["inspector"], case_id, "verify", passed=True).status_code == 200
    closed = act(street, case_id, "close")
    assert closed.status_code == 200
    case.refresh_from_db()
    assert case.state == State.CLOSED and case.closed_on_time is True
    assert actions(case) == [
        "report", "file", "dispatch", "sign", "handle", "verify_pass", "close"
    ]  # fmt: skip
    assert outbox_kinds(case) == [f"case.{a}" for a in actions(case)]
    sequence()  # the numbering after commit (the test's transaction never commits)
    seqs = list(Outbox.objects.filter(case=case).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(seqs[0], seqs[0] + 7))


@clock.travel(MONDAY_10, tick=False)
def test_it_runs_a_hotline_ticket_through_a_district_department_with_rework(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    address = Address.objects.create(
        code="4401060010001", text="广州市天河区测试路1号", geom=centre(small_city[INSPECTOR_CELL])
    )
    ticket = client_for(loop["hotline"]).post(
        "/api/cases/tickets/",
        {
            "channel": "phone",
            "category": event_category("0306").pk,  # 工地围挡破损 → 住房和城乡建设局
            "description": "工地围挡倒了一片",
            "address_text": "天河区测试路一号",
            "address_id": address.pk,
            "caller_name": "王小明",
            "caller_phone": "13812345678",
        },
        format="json",
    )
    assert ticket.status_code == 201, ticket.json()
    body = ticket.json()["case"]
    assert body["caller_phone"] == "13812345678"  # the hotline sees its caller
    case_id = body["id"]

    district = loop["district"]
    assert act(district, case_id, "file").status_code == 200
    assert act(district, case_id, "dispatch").status_code == 200
    case = Case.objects.get(pk=case_id)
    assert case.unit is not None and case.unit.name == "天河区住房和建设局"
    assignment = Assignment.objects.get(case=case)
    assert assignment.rule is not None and assignment.rule.name == "施工管理派区级专业部门"
    # The street sees the case in its area but the caller's phone masked.
    seen = client_for(loop["street"]).get(f"/api/cases/{case_id}/").json()
    assert seen["caller_phone"] == "138****5678" and seen["caller_name"] == "王**"

    handler = _department_user(case.unit)
    assert act(handler, case_id, "sign").status_code == 200
    assert act(handler, case_id, "handle", note="已修复", photos=[photo()]).status_code == 200
    case.refresh_from_db()
    # No inspector reported it: the inspector whose cell it lies in verifies.
    assert case.verifier == loop["inspector"]
    failed = act(loop["inspector"], case_id, "verify", passed=False, note="围挡仍未立起")
    assert failed.status_code == 200
    case.refresh_from_db()
    assert (case.state, case.reworks) == (State.REWORK, 1)
    assert case.sla_check_at is not None  # the clock runs again
    assert act(handler, case_id, "sign").status_code == 200
    assert act(handler, case_id, "handle", note="已重新加固", photos=[photo()]).status_code == 200
    assert act(loop["inspector"], case_id, "verify", passed=True).status_code == 200
    assert act(district, case_id, "close").status_code == 200
    case.refresh_from_db()
    assert case.state == State.CLOSED and case.reworks == 1
    assert actions(case) == [
        "report", "file", "dispatch", "sign", "handle", "verify_fail", "sign", "handle",
        "verify_pass", "close",
    ]  # fmt: skip


def _department_user(unit: Unit) -> User:
    from layers.models import Role
    from tests.loop import add_staff

    return add_staff(f"handler-{unit.pk}", Role.DEPARTMENT, unit)
