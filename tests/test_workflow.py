"""The transition table in force: refusals, extensions, returns, escalation, routing rules,
concurrent dispatchers and the append-only history."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction

from dispatch import services
from dispatch.models import Assignment, RoutingRule
from incidents.errors import CaseError, Conflict
from incidents.models import Case, CaseEvent, State
from layers.models import Area, Role, Unit
from tests.loop import MONDAY_10, SHANGHAI, act, add_staff, client_for, photo, report, set_up_loop


def _dispatched(loop: dict[str, User], city: dict[str, Area], category: str = "0101") -> int:
    case_id = int(report(loop["inspector"], city, category=category).json()["case"]["id"])
    assert act(loop["street"], case_id, "file").status_code == 200
    assert act(loop["street"], case_id, "dispatch").status_code == 200
    return case_id


def test_it_refuses_what_the_table_does_not_allow(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    case_id = report(loop["inspector"], small_city).json()["case"]["id"]
    early = act(loop["street"], case_id, "sign")
    assert early.status_code == 409
    assert "已上报" in early.json()["detail"] and "签收" in early.json()["detail"]
    # An inspector may not file; a department may not dispatch.
    assert act(loop["inspector"], case_id, "file").status_code == 403
    assert act(loop["leader"], case_id, "file").status_code == 403
    cancel = act(loop["street"], case_id, "cancel", reason="")
    assert cancel.status_code == 400 and cancel.json().get("reason")
    assert act(loop["street"], case_id, "cancel", reason="不属于受理范围").status_code == 200
    assert Case.objects.get(pk=case_id).state == State.CANCELLED
    assert act(loop["street"], case_id, "file").status_code == 409


def test_a_handler_cannot_verify_their_own_work(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    case_id = _dispatched(loop, small_city)
    act(loop["street"], case_id, "sign")
    act(loop["street"], case_id, "handle", note="已清理", photos=[photo()])
    handle_without_photo = act(loop["street"], case_id, "handle", note="x")
    assert handle_without_photo.status_code == 400
    # Only the assigned verifier may verify: another inspector (who cannot even see the
    # case outside their cells) gets a 404, a street officer a 403.
    assert act(loop["inspector2"], case_id, "verify", passed=True).status_code == 404
    assert act(loop["street"], case_id, "verify", passed=True).status_code == 403
    failed = act(loop["inspector"], case_id, "verify", passed=False, note="")
    assert failed.status_code == 400 and failed.json()["field"] == "note"


@time_machine.travel(MONDAY_10, tick=False)
def test_an_approved_extension_moves_the_deadline_and_suspension_pauses_it(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    case_id = _dispatched(loop, small_city)  # due Monday 16:00
    street, district = loop["street"], loop["district"]
    act(street, case_id, "sign")
    asked = act(street, case_id, "request_extension", kind="extend", hours=2, reason="设备维修")
    assert asked.status_code == 200, asked.json()
    twice = act(street, case_id, "request_extension", kind="suspend", reason="again")
    assert twice.status_code == 409
    # A street office does not approve its own request; the district does.
    assert act(street, case_id, "approve_extension").status_code == 403
    assert act(district, case_id, "approve_extension").status_code == 200
    case = Case.objects.get(pk=case_id)
    assert case.due_at == dt.datetime(2026, 11, 23, 18, 0, tzinfo=SHANGHAI)
    assert case.extensions == 1

    act(street, case_id, "request_extension", kind="suspend", reason="等待产权人确认")
    assert act(district, case_id, "approve_extension").status_code == 200
    case.refresh_from_db()
    assert (case.state, case.suspended, case.sla_check_at) == (State.SUSPENDED, True, None)
    # Monday 10:00 → 18:00: 6 office hours left (lunch 12:00–14:00 does not count).
    assert case.paused_remaining_s == 6 * 3600
    with time_machine.travel(dt.datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI), tick=False):
        assert act(street, case_id, "resume").status_code == 200
    case.refresh_from_db()
    assert case.state == State.SIGNED
    assert case.due_at == dt.datetime(2026, 11, 25, 17, 0, tzinfo=SHANGHAI)


def test_a_returned_case_is_dispatched_again_and_a_street_escalates(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    case_id = _dispatched(loop, small_city)
    returned = act(loop["street"], case_id, "return", reason="非本单位职责")
    assert returned.status_code == 200
    case = Case.objects.get(pk=case_id)
    assert (case.state, case.unit, case.due_at) == (State.RETURNED, None, None)
    escalated = act(loop["street"], case_id, "escalate", reason="需区级协调")
    assert escalated.status_code == 200, escalated.json()
    case.refresh_from_db()
    assert case.state == State.DISPATCHED and case.unit is not None
    assert case.unit.name == "天河区指挥中心"
    last = Assignment.objects.filter(case=case).last()
    assert last is not None and "需区级协调" in last.reason
    # The district cannot pass it further down by escalating; it escalates to the city.
    assert act(loop["district"], case_id, "escalate", reason="跨区").status_code == 200
    case.refresh_from_db()
    assert case.unit is not None and case.unit.name == "广州市指挥中心"


def test_routing_rules_are_data_with_time_of_day(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    # 0401 路面塌陷 (an emergency) at night → the district command centre on duty.
    night = dt.datetime(2026, 11, 23, 22, 0, tzinfo=SHANGHAI)
    day = dt.datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI)
    results = {}
    for label, moment in (("night", night), ("day", day)):
        with time_machine.travel(moment, tick=False):
            results[label] = Case.objects.get(pk=_dispatched(loop, small_city, "0401"))
    assert results["night"].unit is not None and results["night"].unit.name == "天河区指挥中心"
    assert results["day"].unit is not None and results["day"].unit.name == "天河区交通运输局"
    night_rule = Assignment.objects.get(case=results["night"]).rule
    assert night_rule is not None and night_rule.order == 10
    # A rule edited in the admin takes effect at the next dispatch.
    water = Unit.objects.get(name="广州市水务局")
    RoutingRule.objects.create(order=1, name="全部给水务", tier="city", unit=water)
    assert Case.objects.get(pk=_dispatched(loop, small_city)).unit == water


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_one_wins_one_gets_a_conflict(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    set_up_loop()
    case_id = report(cast["inspector"], small_city).json()["case"]["id"]
    act(cast["street"], case_id, "file")
    second = add_staff(
        "street-b", Role.STREET, Unit.objects.get(name=cast["street"].staff.unit.name)
    )
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def dispatch(user: User) -> None:
        try:
            barrier.wait()
            results[user.username] = services.case_dispatch(user=user, case_id=case_id)
        except (CaseError, DatabaseError) as error:
            results[user.username] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatch, args=(u,)) for u in (cast["street"], second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes = sorted(type(r).__name__ for r in results.values())
    assert outcomes == ["Case", "Conflict"]
    assert any(isinstance(r, Conflict) and "已派遣" in str(r) for r in results.values())
    assert Assignment.objects.filter(case_id=case_id).count() == 1
    assert CaseEvent.objects.filter(case_id=case_id, action="dispatch").count() == 1


def test_history_is_append_only_in_the_database(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    report(loop["inspector"], small_city)
    # With the roles separated (audit/roles.py) the application's role has no UPDATE or
    # DELETE privilege on the history; the trigger refuses the owner (tests/test_db_roles.py).
    refused = "append-only|permission denied"
    with pytest.raises(DatabaseError, match=refused), transaction.atomic():
        CaseEvent.objects.update(note="rewritten")
    with pytest.raises(DatabaseError, match=refused), transaction.atomic():
        CaseEvent.objects.all().delete()
    assert CaseEvent.objects.get().note == ""


def test_a_rule_may_file_and_dispatch_an_inspectors_report_at_once(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    # 0504 占道经营 (street order) from an inspector's phone: 自动立案派遣 to the street.
    body = report(loop["inspector"], small_city, category="0504").json()["case"]
    assert body["state"] == State.DISPATCHED
    case = Case.objects.get(pk=body["id"])
    assert case.unit is not None and case.unit.area.code == "440106001"
    events = list(case.history.order_by("id").values_list("action", "actor"))
    assert events == [("report", loop["inspector"].pk), ("file", None), ("dispatch", None)]
    assert case.due_at is not None
    # The same matter from the hotline waits for a dispatcher (the rule is for the app).
    point = case.geom
    ticket = client_for(loop["hotline"]).post(
        "/api/cases/tickets/",
        {"channel": "phone", "category": case.category_id, "description": "占道经营",
         "address_text": "路口", "lon": point.x, "lat": point.y},
        format="json",
    ).json()  # fmt: skip
    assert ticket["case"]["state"] == State.REPORTED
