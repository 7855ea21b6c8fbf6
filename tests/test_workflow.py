"""The transition table in force: refusals, extensions, returns, escalation, routing rules,
concurrent dispatchers and the append-only history."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction

from dispatch import services
from dispatch.models import Assignment, ExtensionRequest, RoutingRule
from dispatch.sla import run_due
from gridmgmt import clock
from incidents.errors import CaseError, Conflict
from incidents.models import Case, CaseEvent, Outbox, State
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


@clock.travel(MONDAY_10, tick=False)
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
    with clock.travel(dt.datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI), tick=False):
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
        with clock.travel(moment, tick=False):
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


# ---- 改派, 督办 and the decision queues (issue 13) ------------------------------------------


def _enforcement(loop: dict[str, User]) -> Unit:
    return Unit.objects.get(staff__user=loop["enforcement"])


@clock.travel(MONDAY_10, tick=False)
def test_a_command_centre_redispatches_a_case_to_another_unit(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    case_id = _dispatched(loop, small_city)  # to the street office
    street_office = Case.objects.get(pk=case_id).unit
    assert street_office is not None
    enforcement = _enforcement(loop)
    assert act(loop["street"], case_id, "sign").status_code == 200
    # A street office cannot hand a case up to a district department; the district can.
    up = act(loop["street"], case_id, "redispatch", unit=enforcement.pk, reason="执法事项")
    assert up.status_code == 400 and up.json()["field"] == "unit"
    no_reason = act(loop["district"], case_id, "redispatch", unit=enforcement.pk, reason="")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    same = act(loop["district"], case_id, "redispatch", unit=street_office.pk, reason="x")
    assert same.status_code == 400 and same.json()["field"] == "unit"
    stale = act(loop["district"], case_id, "redispatch", unit=enforcement.pk, reason="执法事项",
                expected_state="dispatched")  # fmt: skip
    assert stale.status_code == 409 and stale.json()["field"] == "expected_state"
    # The department may not move cases between units.
    assert act(loop["enforcement"], case_id, "redispatch", unit=enforcement.pk,
               reason="x").status_code == 404  # fmt: skip

    moved = act(loop["district"], case_id, "redispatch", unit=enforcement.pk,
                reason="属于城管执法事项", expected_state="signed")  # fmt: skip
    assert moved.status_code == 200, moved.json()
    assert moved.json()["state"] == "dispatched"
    assert moved.json()["unit"]["id"] == enforcement.pk
    case = Case.objects.get(pk=case_id)
    entry = case.history.order_by("at", "id").last()
    assert entry is not None and entry.action == "redispatch"
    assert entry.data["previous_unit"] == street_office.pk and entry.note == "属于城管执法事项"
    units = Assignment.objects.filter(case=case).order_by("at", "id").values_list("unit", flat=True)
    assert list(units)[-1] == enforcement.pk
    assert case.due_at is not None and case.due_at > MONDAY_10  # the clock started again
    # The new unit has it now, the street office no longer acts on it.
    assert act(loop["street"], case_id, "sign").status_code == 403
    assert act(loop["enforcement"], case_id, "sign").status_code == 200


def test_supervision_reaches_the_unit_and_shows_until_its_feedback(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    case_id = _dispatched(loop, small_city)
    unit_id = Case.objects.get(pk=case_id).unit_id
    # 督办 is for the district and the city; the street office is the one pressed.
    assert (
        act(loop["street"], case_id, "supervise", note="快", due_at="2030-01-01").status_code == 403
    )
    empty = act(loop["district"], case_id, "supervise", note=" ", due_at="2030-01-01")
    assert empty.status_code == 400 and "note" in empty.json()
    past = act(loop["district"], case_id, "supervise", note="请处置", due_at="2020-01-01")
    assert past.status_code == 400 and past.json()["field"] == "due_at"
    garbled = act(loop["district"], case_id, "supervise", note="请处置", due_at="next week")
    assert garbled.status_code == 400 and "due_at" in garbled.json()

    pressed = act(loop["district"], case_id, "supervise", note="群众反映强烈，请今日处置",
                  due_at="2030-01-02", expected_state="dispatched")  # fmt: skip
    assert pressed.status_code == 200, pressed.json()
    assert pressed.json()["state"] == "dispatched"  # unchanged
    entry = CaseEvent.objects.filter(case_id=case_id).order_by("at", "id").last()
    assert entry is not None and entry.action == "supervise"
    assert entry.from_state == entry.to_state == "dispatched"
    # Its live event goes to the unit's group, as every event of the unit's cases.
    event = Outbox.objects.filter(case_id=case_id).order_by("id").last()
    assert event is not None and event.kind == "case.supervise" and unit_id in event.unit_ids

    detail = client_for(loop["street"]).get(f"/api/cases/{case_id}/").json()
    [open_one] = detail["supervisions"]
    assert open_one["note"] == "群众反映强烈，请今日处置"
    assert open_one["by"] == Unit.objects.get(staff__user=loop["district"]).name
    assert open_one["due_at"].startswith("2030-01-02T23:59:59")
    # The unit's feedback answers it.
    act(loop["street"], case_id, "sign")
    act(loop["street"], case_id, "handle", note="已清理", photos=[photo()])
    after = client_for(loop["street"]).get(f"/api/cases/{case_id}/").json()
    assert after["supervisions"] == []


def test_a_returned_case_lets_its_pending_extension_lapse(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    case_id = _dispatched(loop, small_city)
    street, district = loop["street"], loop["district"]
    act(street, case_id, "sign")
    act(street, case_id, "request_extension", kind="suspend", reason="等待产权人确认")
    assert client_for(district).get(f"/api/cases/{case_id}/").json()["extension"] is not None
    assert act(street, case_id, "return", reason="非本单位职责").status_code == 200
    assert act(district, case_id, "approve_extension").status_code == 409
    request = ExtensionRequest.objects.get(case_id=case_id)
    assert request.approved is False and request.decided_by == street
    assert client_for(district).get(f"/api/cases/{case_id}/").json()["extension"] is None


def _ids(user: User, **params: str) -> list[int]:
    answer = client_for(user).get("/api/cases/", params)
    assert answer.status_code == 200, answer.json()
    return sorted(c["id"] for c in answer.json()["results"])


def test_awaiting_me_lists_the_decisions_each_user_has_to_take(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    street, district = loop["street"], loop["district"]
    new = int(report(loop["inspector"], small_city).json()["case"]["id"])
    in_hand = _dispatched(loop, small_city)
    act(street, in_hand, "sign")
    pending = _dispatched(loop, small_city)
    act(street, pending, "sign")
    act(street, pending, "request_extension", kind="suspend", reason="等待")
    returned = _dispatched(loop, small_city)
    act(street, returned, "return", reason="非本单位职责")
    escalated = int(report(loop["inspector"], small_city).json()["case"]["id"])
    act(street, escalated, "file")
    assert act(street, escalated, "escalate", reason="超出街道职权").status_code == 200

    assert _ids(street, awaiting="me") == sorted([new, returned])
    assert _ids(district, awaiting="me") == sorted([new, pending, returned, escalated])
    assert _ids(loop["enforcement"], awaiting="me") == []
    assert _ids(loop["inspector"], awaiting="me") == []
    # Each listed case offers the user a decision: the same answer as the detail's.
    decisions = {"file", "dispatch", "close", "approve_extension", "sign"}
    for user in (street, district):
        for case_id in _ids(user, awaiting="me"):
            offered = client_for(user).get(f"/api/cases/{case_id}/").json()["allowed_actions"]
            assert decisions & {a["action"] for a in offered}, (user, case_id)
    # Combined with the other filters.
    assert _ids(district, awaiting="me", state="signed") == [pending]


def test_assigned_me_lists_the_cases_of_the_users_unit(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    street = loop["street"]
    mine = _dispatched(loop, small_city)
    theirs = _dispatched(loop, small_city)
    act(loop["district"], theirs, "redispatch", unit=_enforcement(loop).pk, reason="执法事项")
    report(loop["inspector"], small_city)  # not dispatched: nobody's
    assert _ids(street, assigned="me") == [mine]
    assert _ids(loop["enforcement"], assigned="me") == [theirs]
    assert _ids(loop["enforcement"], assigned="me", state="signed") == []
    assert _ids(loop["nobody"], assigned="me") == []


@pytest.mark.parametrize("param", ["awaiting", "assigned"])
def test_the_me_filters_refuse_other_values(
    param: str, loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    answer = client_for(loop["street"]).get("/api/cases/", {param: "street"})
    assert answer.status_code == 400
    assert param in answer.json()


def test_the_sla_workers_supervision_stands_in_the_detail_too(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    with clock.travel(MONDAY_10, tick=False):
        case_id = _dispatched(loop, small_city)  # due Monday 16:00
    for hour in (15, 17, 23):  # warning, overdue, then the city's 督办
        with clock.travel(MONDAY_10.replace(hour=hour), tick=False):
            run_due()
    detail = client_for(loop["district"]).get(f"/api/cases/{case_id}/").json()
    [standing] = detail["supervisions"]
    assert standing["by"] is None
    assert standing["due_at"] == detail["due_at"]
    # The district may press once more, with its own note and date.
    assert any(a["action"] == "supervise" for a in detail["allowed_actions"])
