"""What a case detail offers is what the services accept: for every state a case can be
in and every post of the cast, each action of allowed_actions() succeeds when taken,
and each action missing from it is refused (run, then rolled back, on real PostGIS).
Also the query counts of every action and of the case detail, pinned."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from dispatch import hotline, services
from dispatch.permissions import allowed_actions
from dispatch.transitions import TRANSITIONS
from incidents.errors import CaseNotFound, Conflict, NotPermitted
from incidents.models import Case, State
from layers.access import staff_of
from layers.models import Area, Role, Tier, Unit, UnitKind
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, client_for, event_category, photo, report

USERS = [
    "admin", "city", "district", "street", "hotline", "inspector", "inspector2",
    "department", "enforcement", "leader", "data_admin", "nobody",
]  # fmt: skip

STREET_TEAM = "天河区第1街道综合执法队"


class _Undo(Exception):
    """Raised to roll an accepted action back: the next one starts from the same case."""


@pytest.fixture
def units(loop: dict[str, User], small_city: dict[str, Area]) -> dict[str, Unit]:
    """The units cases go to: the street office, a second unit at the street's tier (so
    that a street office has somewhere to re-dispatch to), the district's 城管执法."""
    hotline.ensure_defaults()  # the 12345 ticket types (a flushed database has none)
    street = Unit.objects.get(pk=loop["street"].staff.unit_id)
    team = Unit.objects.create(
        name=STREET_TEAM, tier=Tier.STREET, area=street.area, kind=UnitKind.DEPARTMENT
    )
    enforcement = Unit.objects.get(pk=loop["enforcement"].staff.unit_id)
    return {"street": street, "team": team, "enforcement": enforcement}


def _new(loop: dict[str, User], city: dict[str, Area]) -> int:
    return int(report(loop["inspector"], city).json()["case"]["id"])


def _ticket(loop: dict[str, User], city: dict[str, Area], ticket_type: str) -> int:
    """A 12345 work order of `ticket_type` taken by the hotline, by id."""
    point = centre(city[INSPECTOR_CELL])
    body = {
        "channel": "phone", "category": event_category("0101").pk, "address_text": "华景路",
        "description": "垃圾堆积", "lon": point.x, "lat": point.y, "ticket_type": ticket_type,
    }  # fmt: skip
    answer = client_for(loop["hotline"]).post("/api/cases/tickets/", body, format="json")
    return int(answer.json()["case"]["id"])


def _steps(admin: User, case_id: int, unit: Unit) -> dict[str, Callable[[], Any]]:
    """The administrator's way through the loop, one step per state."""
    kw: dict[str, Any] = {"user": admin, "case_id": case_id}
    return {
        "file": lambda: services.case_file(**kw),
        "dispatch": lambda: services.case_dispatch(**kw, unit_id=unit.pk),
        "sign": lambda: services.case_sign(**kw),
        "request": lambda: services.case_request_extension(**kw, kind="suspend", reason="等"),
        "approve": lambda: services.case_decide_extension(**kw, approve=True),
        "return": lambda: services.case_return(**kw, reason="非本单位职责"),
        "handle": lambda: services.case_handle(**kw, note="已处置", photos=[photo()]),
        "cancel": lambda: services.case_cancel(**kw, reason="无效上报"),
        "reply": lambda: services.case_reply(**kw, reply="已清理，欢迎监督"),
        "escalate": lambda: services.case_escalate(**kw, reason="超出街道职权"),
    }


# state name → (unit the case goes to, the administrator's steps, then the verifier's)
STATES: dict[str, tuple[str, list[str], str]] = {
    "reported": ("street", [], ""),
    "filed": ("street", ["file"], ""),
    "cancelled": ("street", ["cancel"], ""),
    "merged": ("street", [], ""),
    "dispatched": ("street", ["file", "dispatch"], ""),
    "dispatched_department": ("enforcement", ["file", "dispatch"], ""),
    "signed": ("street", ["file", "dispatch", "sign"], ""),
    "signed_department": ("enforcement", ["file", "dispatch", "sign"], ""),
    "signed_pending": ("street", ["file", "dispatch", "sign", "request"], ""),
    "suspended": ("enforcement", ["file", "dispatch", "sign", "request", "approve"], ""),
    "returned": ("enforcement", ["file", "dispatch", "return"], ""),
    "handled": ("enforcement", ["file", "dispatch", "sign", "handle"], ""),
    "rework": ("enforcement", ["file", "dispatch", "sign", "handle"], "fail"),
    "verified": ("street", ["file", "dispatch", "sign", "handle"], "pass"),
    "closed": ("street", ["file", "dispatch", "sign", "handle"], "close"),
    # Escalated by the street office to the district's command centre, which has it now.
    "dispatched_escalated": ("street", ["file", "dispatch", "escalate"], ""),
    # 12345 work orders (the name after the state: the ticket's type, or its reply).
    "reported_consult": ("street", [], ""),
    "signed_complaint": ("enforcement", ["file", "dispatch", "sign"], ""),
    "signed_replied": ("enforcement", ["file", "dispatch", "sign", "reply"], ""),
    "closed_replied": ("street", ["file", "dispatch", "sign", "handle", "reply"], "close"),
}
# The ticket type of the 12345 states (the others are inspector reports).
TICKETS = {"reported_consult": "consult"}


def _case_in(
    state: str, loop: dict[str, User], city: dict[str, Area], units: dict[str, Unit]
) -> tuple[int, int]:
    """A case in `state` and another open case (a merge target), by id."""
    target = _new(loop, city)
    if state in TICKETS or state.endswith(("_complaint", "_replied")):
        case_id = _ticket(loop, city, TICKETS.get(state, "complaint"))
    else:
        case_id = _new(loop, city)
    unit, steps, verdict = STATES[state]
    admin = loop["admin"]
    if state == "merged":
        services.case_merge(user=admin, case_id=case_id, into_id=target)
        target = _new(loop, city)
    ways = _steps(admin, case_id, units[unit])
    for step in steps:
        ways[step]()
    if verdict:
        inspector = loop["inspector"]  # the reporter verifies
        services.case_verify(user=inspector, case_id=case_id, passed=verdict != "fail", note="x")
    if verdict == "close":
        services.case_close(user=admin, case_id=case_id)
    return case_id, target


def _take(
    action: str, user: User, case_id: int, target: int, units: dict[str, Unit]
) -> Callable[[], Any]:
    """The service call of `action` with an input it accepts."""
    kw: dict[str, Any] = {"user": user, "case_id": case_id}
    case = Case.objects.get(pk=case_id)
    # Another unit the case may go to: one at the street's tier covers the case.
    other = units["team"] if case.unit_id != units["team"].pk else units["street"]
    due = timezone.now() + dt.timedelta(days=2)
    calls: dict[str, Callable[[], Any]] = {
        "file": lambda: services.case_file(**kw),
        "cancel": lambda: services.case_cancel(**kw, reason="无效"),
        "merge": lambda: services.case_merge(**kw, into_id=target),
        "dispatch": lambda: services.case_dispatch(**kw),
        "redispatch": lambda: services.case_redispatch(**kw, unit_id=other.pk, reason="错派"),
        "sign": lambda: services.case_sign(**kw),
        "return": lambda: services.case_return(**kw, reason="非本单位职责"),
        "request_extension": lambda: services.case_request_extension(
            **kw, kind="extend", hours=8, reason="设备维修"
        ),
        "approve_extension": lambda: services.case_decide_extension(**kw, approve=True),
        "reject_extension": lambda: services.case_decide_extension(**kw, approve=False),
        "resume": lambda: services.case_resume(**kw),
        "handle": lambda: services.case_handle(**kw, note="已处置", photos=[photo()]),
        "verify_pass": lambda: services.case_verify(**kw, passed=True),
        "verify_fail": lambda: services.case_verify(**kw, passed=False, note="仍有垃圾"),
        "close": lambda: services.case_close(**kw),
        "escalate": lambda: services.case_escalate(**kw, reason="超出街道职权"),
        "supervise": lambda: services.case_supervise(**kw, note="请尽快处置", due_at=due),
        "close_direct": lambda: services.case_close_direct(**kw, reply="已电话解答"),
        "reply": lambda: services.case_reply(**kw, reply="已清理"),
        "callback": lambda: services.case_callback(**kw, reached=True, satisfaction="satisfied"),
        # No state of STATES has a co-unit (协办): tests/test_counits.py takes these.
        "co_sign": lambda: services.case_co_sign(**kw),
        "co_handle": lambda: services.case_co_handle(**kw, note="已处置", photos=[photo()]),
        "split": lambda: services.case_split(
            **kw,
            children=[
                services.Child(event_category("0101").pk),
                services.Child(event_category("0101").pk),
            ],
        ),
    }
    assert set(calls) == set(TRANSITIONS)
    return calls[action]


def _accepted(call: Callable[[], Any]) -> bool:
    try:
        with transaction.atomic():
            call()
            raise _Undo
    except _Undo:
        return True
    except (CaseNotFound, Conflict, NotPermitted):
        return False


@pytest.mark.parametrize("state", list(STATES))
def test_allowed_actions_are_exactly_what_the_services_accept(
    state: str, loop: dict[str, User], small_city: dict[str, Area], units: dict[str, Unit]
) -> None:
    case_id, target = _case_in(state, loop, small_city, units)
    case = Case.objects.get(pk=case_id)
    assert case.state == state.split("_")[0] or state == "signed_pending"
    mismatches = []
    offered_to_anyone = set()
    for username in USERS:
        user = User.objects.get(username=username)  # a fresh user: no post cached
        offered = {t.action for t in allowed_actions(user, Case.objects.get(pk=case_id))}
        offered_to_anyone |= offered
        for action in TRANSITIONS:
            accepted = _accepted(_take(action, user, case_id, target, units))
            if accepted != (action in offered):
                mismatches.append((username, action, "offered" if accepted else "refused"))
    assert mismatches == []
    assert offered_to_anyone == EXPECTED[state]
    # The case is as it was: every accepted action was rolled back.
    assert Case.objects.get(pk=case_id).state == case.state


# Who may do what, summed over the cast (the per-user answers are checked above against
# the services; this pins that every state offers the actions it should to someone).
EXPECTED: dict[str, set[str]] = {
    "reported": {"file", "cancel", "merge"},
    "filed": {"cancel", "merge", "dispatch", "escalate", "split"},
    "cancelled": set(),
    "merged": set(),
    "dispatched": {"redispatch", "sign", "return", "escalate", "supervise"},
    "dispatched_department": {"redispatch", "sign", "return", "escalate", "supervise"},
    "signed": {"redispatch", "return", "request_extension", "handle", "escalate", "supervise"},
    "signed_department": {
        "redispatch", "return", "request_extension", "handle", "escalate", "supervise",
    },
    "signed_pending": {
        "return", "approve_extension", "reject_extension", "handle", "escalate", "supervise",
    },
    "suspended": {"resume", "supervise"},
    "returned": {"dispatch", "redispatch", "escalate"},
    "handled": {"verify_pass", "verify_fail"},
    "rework": {"redispatch", "sign", "escalate", "supervise"},
    "verified": {"close"},
    "closed": set(),
    "dispatched_escalated": {"dispatch", "redispatch", "sign", "return", "escalate", "supervise"},
    "reported_consult": {"file", "cancel", "merge", "close_direct"},
    "signed_complaint": {
        "redispatch", "return", "request_extension", "handle", "escalate", "supervise", "reply",
    },
    "signed_replied": {
        "redispatch", "return", "request_extension", "handle", "escalate", "supervise",
        "callback",
    },
    "closed_replied": {"callback"},
}  # fmt: skip


def test_a_street_office_is_offered_its_own_decisions_and_not_its_approvers(
    loop: dict[str, User], small_city: dict[str, Area], units: dict[str, Unit]
) -> None:
    case_id, _target = _case_in("signed_pending", loop, small_city, units)
    detail = client_for(loop["street"]).get(f"/api/cases/{case_id}/").json()
    street = [a["action"] for a in detail["allowed_actions"]]
    assert street == ["return", "handle", "escalate"]  # in workflow order
    assert detail["extension"]["kind"] == "suspend"
    assert detail["extension"]["requested_by"] == "admin"
    district = client_for(loop["district"]).get(f"/api/cases/{case_id}/").json()
    offered = {a["action"]: a["label"] for a in district["allowed_actions"]}
    assert offered["approve_extension"] == "批准延期/缓办"
    assert "handle" not in offered  # the district is not the case's unit


def test_the_handler_is_not_offered_to_verify_their_own_feedback(
    loop: dict[str, User], small_city: dict[str, Area], units: dict[str, Unit]
) -> None:
    case_id = _new(loop, small_city)
    street, inspector2 = loop["street"], loop["inspector2"]
    services.case_file(user=street, case_id=case_id)
    services.case_dispatch(user=street, case_id=case_id, unit_id=units["street"].pk)
    services.case_sign(user=street, case_id=case_id)
    services.case_handle(user=street, case_id=case_id, note="已处置", photos=[photo()])
    case = Case.objects.get(pk=case_id)
    # Make the handler the verifier: the table would let them, the case rule does not.
    Case.objects.filter(pk=case_id).update(handled_by=inspector2, verifier=inspector2)
    case.refresh_from_db()
    assert [t.action for t in allowed_actions(inspector2, case)] == []
    with pytest.raises(NotPermitted):
        services.case_verify(user=inspector2, case_id=case_id, passed=True)


def test_the_command_centre_that_received_an_escalation_dispatches_it_down(
    loop: dict[str, User], small_city: dict[str, Area], units: dict[str, Unit]
) -> None:
    case_id, _target = _case_in("dispatched_escalated", loop, small_city, units)
    district, street = loop["district"], loop["street"]
    case = Case.objects.get(pk=case_id)
    assert case.unit_id == staff_of(district).unit_id  # type: ignore[union-attr]
    assert "dispatch" in [t.action for t in allowed_actions(district, case)]
    # The street office that escalated it cannot dispatch it back down itself.
    assert "dispatch" not in [t.action for t in allowed_actions(street, case)]
    answer = client_for(district).post(
        f"/api/cases/{case_id}/dispatch/",
        {"unit": units["enforcement"].pk, "expected_state": "dispatched"},
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    case.refresh_from_db()
    assert case.state == "dispatched" and case.unit_id == units["enforcement"].pk
    history = list(case.history.order_by("at", "id").values_list("action", "actor__username"))
    assert history[-2:] == [("escalate", "admin"), ("dispatch", "district")]
    # Now with the district's 城管执法 (not escalated to the district): no more 派遣.
    refused = client_for(district).post(
        f"/api/cases/{case_id}/dispatch/", {"unit": units["street"].pk}, format="json"
    )
    assert refused.status_code == 409


# ---- query counts ------------------------------------------------------------------------

# action → queries of the service, from its first check to its live event, savepoint and
# release included (the actor's post comes with the user, as layers.auth loads it on
# every request). A new query in an action's path shows up here. Since the outbox numbers
# events after commit (ed8b1ca) a live event costs one statement, three fewer than before.
QUERIES = {
    "file": 7,
    "cancel": 7,
    "merge": 12,
    "dispatch": 10,  # routing reads one row, the routing stamp (dispatch.routing)
    "redispatch": 11,
    "sign": 7,
    "return": 9,
    "request_extension": 11,
    "approve_extension": 10,
    "reject_extension": 9,
    "resume": 10,
    # 3 more since the feedback sets the verification deadline (核查时限: the stage limit and
    # the working calendar) and lists the co-units' open parts (协办).
    "handle": 14,
    "verify_pass": 7,
    "verify_fail": 7,
    "close": 7,
    "escalate": 9,
    "supervise": 7,
    "close_direct": 8,
    "reply": 10,
    "callback": 9,
}

# Where each action is taken from, and by whom.
FROM = {
    "file": ("reported", "street"),
    "cancel": ("reported", "street"),
    "merge": ("reported", "street"),
    "dispatch": ("filed", "street"),
    "redispatch": ("dispatched", "street"),
    "sign": ("dispatched", "street"),
    "return": ("signed", "street"),
    "request_extension": ("signed", "street"),
    "approve_extension": ("signed_pending", "district"),
    "reject_extension": ("signed_pending", "district"),
    "resume": ("suspended", "enforcement"),
    "handle": ("signed", "street"),
    "verify_pass": ("handled", "inspector"),
    "verify_fail": ("handled", "inspector"),
    "close": ("verified", "street"),
    "escalate": ("dispatched", "street"),
    "supervise": ("dispatched", "district"),
    "close_direct": ("reported_consult", "hotline"),
    "reply": ("signed_complaint", "enforcement"),
    "callback": ("signed_replied", "hotline"),
}


@pytest.mark.parametrize("action", list(QUERIES))
def test_each_action_takes_a_pinned_number_of_queries(
    action: str,
    loop: dict[str, User],
    small_city: dict[str, Area],
    units: dict[str, Unit],
    django_assert_num_queries: Any,
) -> None:
    state, username = FROM[action]
    case_id, target = _case_in(state, loop, small_city, units)
    user = User.objects.get(username=username)
    call = _take(action, user, case_id, target, units)
    staff_of(user)  # the post, loaded with the user on a request (layers.auth)
    with django_assert_num_queries(QUERIES[action]):
        call()


def test_the_case_detail_takes_a_pinned_number_of_queries(
    loop: dict[str, User],
    small_city: dict[str, Area],
    units: dict[str, Unit],
    django_assert_num_queries: Any,
) -> None:
    case_id, _target = _case_in("signed_pending", loop, small_city, units)
    client = client_for(loop["district"])
    client.get(f"/api/cases/{case_id}/")  # the session and the catalogue warmed up
    with django_assert_num_queries(DETAIL_QUERIES):
        answer = client.get(f"/api/cases/{case_id}/")
    assert answer.status_code == 200
    assert answer.json()["extension"] is not None


# 14 since the detail says whether its deadline lies beyond the working calendar's last
# known year (due_beyond_calendar, one query per response: 717a437).
# 16 since it lists the co-units' parts (协办) and the child cases of a split (拆分): one
# prefetch each. 15 since the session and its user are read in one statement (from a
# session's second request in a process, gridmgmt/sessions.py).
DETAIL_QUERIES = 15


def test_a_role_without_a_post_is_offered_nothing(
    loop: dict[str, User], small_city: dict[str, Area], units: dict[str, Unit]
) -> None:
    case_id, _target = _case_in("reported", loop, small_city, units)
    case = Case.objects.get(pk=case_id)
    for username in ("nobody", "leader", "data_admin"):
        assert allowed_actions(User.objects.get(username=username), case) == []
    assert Role.LEADER not in TRANSITIONS["file"].who
    assert case.state == State.REPORTED
