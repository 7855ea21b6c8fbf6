"""Many departments on one case (issue 16, item 4): a dispatch names a lead unit (主办) and
co-units (协办); each co-unit signs for its own part and reports on it, the case goes to
verification when the lead reports, open parts are listed; co-units see the case, get its
live events and are told of their part; the actions are in allowed_actions, the history
and the API, with pinned query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from dispatch import services
from dispatch.models import CasePart
from dispatch.permissions import allowed_actions
from gridmgmt import clock
from incidents.access import visible_cases
from incidents.models import Case, Outbox
from layers.access import staff_of
from layers.models import Area
from notifications.collect import collect
from notifications.models import Kind, Notification
from tests.loop import MONDAY_10, act, actions, client_for, photo, report, unit_id_of


def _filed(loop: dict[str, User], city: dict[str, Area]) -> int:
    case_id = int(report(loop["inspector"], city).json()["case"]["id"])
    assert act(loop["street"], case_id, "file").status_code == 200
    return case_id


def _offered(user: User, case_id: int) -> list[str]:
    detail = client_for(user).get(f"/api/cases/{case_id}/").json()
    return [a["action"] for a in detail["allowed_actions"]]


@clock.travel(MONDAY_10, tick=False)
def test_lead_and_co_unit_each_handle_their_part_and_the_lead_closes_the_case(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    street, district, enforcement = loop["street"], loop["district"], loop["enforcement"]
    case_id = _filed(loop, small_city)
    # The district dispatches to the street office (主办) with its 城管执法 (协办).
    answer = act(district, case_id, "dispatch", unit=unit_id_of(street),
                 co_units=[unit_id_of(enforcement)], expected_state="filed")  # fmt: skip
    assert answer.status_code == 200, answer.json()
    case = Case.objects.get(pk=case_id)
    assert case.state == "dispatched" and case.unit_id == unit_id_of(street)
    [part] = CasePart.objects.filter(case=case)
    assert (part.unit_id, part.state) == (unit_id_of(enforcement), "dispatched")

    # The co-unit sees the case and is offered its own part's actions, not the lead's.
    assert visible_cases(enforcement).filter(pk=case_id).exists()
    assert _offered(enforcement, case_id) == ["co_sign"]
    assert "co_sign" not in _offered(street, case_id)
    listed = client_for(enforcement).get("/api/cases/?assigned=co").json()["results"]
    assert [c["id"] for c in listed] == [case_id]

    assert act(enforcement, case_id, "co_sign", expected_state="dispatched").status_code == 200
    assert _offered(enforcement, case_id) == ["co_handle"]
    refused = act(enforcement, case_id, "co_sign")
    assert refused.status_code == 409 and "处置中" in refused.json()["detail"]
    answer = act(enforcement, case_id, "co_handle", note="已清理占道摊点", photos=[photo()])
    assert answer.status_code == 200, answer.json()
    assert answer.json()["state"] == "dispatched"  # the lead's state is the case's
    part.refresh_from_db()
    assert part.state == "handled" and part.note == "已清理占道摊点"
    assert _offered(enforcement, case_id) == []
    assert client_for(enforcement).get("/api/cases/?assigned=co").json()["results"] == []

    # The lead signs and reports: the case goes to verification.
    assert act(street, case_id, "sign").status_code == 200
    assert act(street, case_id, "handle", note="已清理", photos=[photo()]).status_code == 200
    detail = client_for(street).get(f"/api/cases/{case_id}/").json()
    assert detail["state"] == "handled"
    [shown] = detail["parts"]
    assert shown["unit"]["id"] == unit_id_of(enforcement)
    assert (shown["state"], shown["state_label"], shown["open"]) == ("handled", "已反馈", False)
    assert shown["note"] == "已清理占道摊点" and len(shown["photos"]) == 1
    assert actions(case) == ["report", "file", "dispatch", "co_dispatch", "co_sign",
                             "co_handle", "sign", "handle"]  # fmt: skip
    units = list(case.history.filter(action__startswith="co_").values_list("unit_id", flat=True))
    assert units == [unit_id_of(enforcement)] * 3


@clock.travel(MONDAY_10, tick=False)
def test_the_lead_reports_with_a_co_unit_part_open_and_sees_it_listed(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    street, district, enforcement = loop["street"], loop["district"], loop["enforcement"]
    case_id = _filed(loop, small_city)
    act(district, case_id, "dispatch", unit=unit_id_of(street), co_units=[unit_id_of(enforcement)])
    act(street, case_id, "sign")
    assert act(street, case_id, "handle", note="已清理", photos=[photo()]).status_code == 200
    case = Case.objects.get(pk=case_id)
    assert case.state == "handled"
    handle = case.history.get(action="handle")
    assert handle.data["open_parts"] == [unit_id_of(enforcement)]
    [shown] = client_for(street).get(f"/api/cases/{case_id}/").json()["parts"]
    assert (shown["state"], shown["open"]) == ("dispatched", True)
    # The co-unit still works on its part until the case is closed.
    assert _offered(enforcement, case_id) == ["co_sign"]


@clock.travel(MONDAY_10, tick=False)
def test_co_units_are_checked_like_the_unit_and_refused_with_reasons(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    street, district, enforcement = loop["street"], loop["district"], loop["enforcement"]
    case_id = _filed(loop, small_city)
    lead = unit_id_of(street)
    same = act(district, case_id, "dispatch", unit=lead, co_units=[lead])
    assert same.status_code == 400 and same.json()["field"] == "co_units"
    unknown = act(district, case_id, "dispatch", unit=lead, co_units=[999999])
    assert unknown.status_code == 400 and unknown.json()["field"] == "co_units"
    # A street office cannot name a unit above it (the district's 城管执法).
    above = act(street, case_id, "dispatch", unit=lead, co_units=[unit_id_of(enforcement)])
    assert above.status_code == 400 and "上级单位" in above.json()["detail"]
    assert not CasePart.objects.filter(case_id=case_id).exists()
    assert Case.objects.get(pk=case_id).state == "filed"  # nothing kept of a refusal
    # Not a co-unit: the department of the city does not even see the case.
    act(district, case_id, "dispatch", unit=lead, co_units=[unit_id_of(enforcement)])
    assert act(loop["department"], case_id, "co_sign").status_code == 404
    # The lead is not a co-unit: refused with the relation's reason.
    refused = act(street, case_id, "co_sign")
    assert refused.status_code == 403 and "协办单位" in refused.json()["detail"]
    # Before signing there is no feedback of the part.
    early = act(enforcement, case_id, "co_handle", note="x", photos=[photo()])
    assert early.status_code == 409
    # A co-unit already on the case is not added twice (改派 adds co-units).
    again = act(district, case_id, "redispatch", unit=unit_id_of(street), reason="x",
                co_units=[unit_id_of(enforcement)])  # fmt: skip
    assert again.status_code == 400


@clock.travel(MONDAY_10, tick=False)
def test_the_co_unit_is_told_of_its_part(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    street, district, enforcement = loop["street"], loop["district"], loop["enforcement"]
    case_id = _filed(loop, small_city)
    act(district, case_id, "dispatch", unit=unit_id_of(street), co_units=[unit_id_of(enforcement)])
    co_event = Outbox.objects.get(case_id=case_id, kind="case.co_dispatch")
    assert co_event.payload["part_unit_id"] == unit_id_of(enforcement)
    assert unit_id_of(enforcement) in co_event.unit_ids  # its live map gets the case
    collect()
    told = Notification.objects.filter(case_id=case_id).order_by("user__username")
    assert list(told.values_list("user__username", "kind")) == [
        ("enforcement", Kind.ASSIGNED),
        ("street", Kind.ASSIGNED),
    ]


@clock.travel(MONDAY_10, tick=False)
def test_redispatch_adds_co_units(loop: dict[str, User], small_city: dict[str, Area]) -> None:
    street, district, enforcement = loop["street"], loop["district"], loop["enforcement"]
    case_id = _filed(loop, small_city)
    act(district, case_id, "dispatch", unit=unit_id_of(enforcement))
    answer = act(district, case_id, "redispatch", unit=unit_id_of(street),
                 reason="街道主办，执法协办", co_units=[unit_id_of(enforcement)])  # fmt: skip
    assert answer.status_code == 200, answer.json()
    case = Case.objects.get(pk=case_id)
    assert case.unit_id == unit_id_of(street)
    redispatch = case.history.get(action="redispatch")
    assert redispatch.data["co_units"] == [unit_id_of(enforcement)]
    # The co-unit acts on its part: allowed_actions and the service agree.
    assert [t.action for t in allowed_actions(enforcement, case)] == ["co_sign"]
    services.case_co_sign(user=enforcement, case_id=case_id)
    assert CasePart.objects.get(case=case).state == "signed"


# ---- query counts ------------------------------------------------------------------------

# Queries of each service from its first check to its live event, like
# tests/test_allowed_actions.py's: a new query in an action's path shows up here.
QUERIES = {"co_sign": 9, "co_handle": 10, "dispatch_with_co_unit": 17}


@pytest.mark.parametrize("action", list(QUERIES))
@clock.travel(MONDAY_10, tick=False)
def test_co_unit_actions_take_a_pinned_number_of_queries(
    action: str,
    loop: dict[str, User],
    small_city: dict[str, Area],
    django_assert_num_queries: Any,
) -> None:
    street, district, enforcement = loop["street"], loop["district"], loop["enforcement"]
    case_id = _filed(loop, small_city)
    lead, co = unit_id_of(street), [unit_id_of(enforcement)]
    calls = {
        "dispatch_with_co_unit": lambda: services.case_dispatch(
            user=district, case_id=case_id, unit_id=lead, co_unit_ids=co
        ),
        "co_sign": lambda: services.case_co_sign(user=enforcement, case_id=case_id),
        "co_handle": lambda: services.case_co_handle(
            user=enforcement, case_id=case_id, note="已处置", photos=[photo()]
        ),
    }
    if action != "dispatch_with_co_unit":
        calls["dispatch_with_co_unit"]()
    if action == "co_handle":
        calls["co_sign"]()
    user = district if action == "dispatch_with_co_unit" else enforcement
    staff_of(user)  # the post, loaded with the user on a request (layers.auth)
    with django_assert_num_queries(QUERIES[action]):
        calls[action]()
