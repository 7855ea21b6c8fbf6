"""Splitting a report into child cases for different departments (拆分, issue 16 item 4):
each child is filed and dispatched at once with its own unit and deadline; parent and
children name each other in the API and in their histories; the parent waits as 已拆分
and closes with its last child."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import User

from dispatch.evaluation import AreaRow, By, InspectorRow, Period, evaluate
from dispatch.permissions import allowed_actions
from gridmgmt import clock
from incidents.models import Case, State
from layers.models import Area, Category
from tests.loop import (
    MONDAY_10,
    act,
    actions,
    client_for,
    event_category,
    photo,
    report,
    unit_id_of,
)


def _close(loop: dict[str, User], handler: User, case_id: int) -> None:
    steps: list[tuple[User, str, dict[str, Any]]] = [
        (handler, "sign", {}),
        (handler, "handle", {"note": "已处置", "photos": [photo()]}),
        (loop["inspector"], "verify", {"passed": True}),
        (loop["street"], "close", {}),
    ]
    for user, action, body in steps:
        answer = act(user, case_id, action, **body)
        assert answer.status_code == 200, (action, answer.json())


@clock.travel(MONDAY_10, tick=False)
def test_a_case_is_split_for_two_departments_and_closes_with_its_last_child(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    street, district, enforcement = loop["street"], loop["district"], loop["enforcement"]
    parent = int(report(loop["inspector"], small_city).json()["case"]["id"])
    assert act(street, parent, "file").status_code == 200
    assert "split" in [t.action for t in allowed_actions(district, Case.objects.get(pk=parent))]
    garbage, vending = event_category("0101"), event_category("0501")
    children = [
        {"category": garbage.pk, "unit": unit_id_of(street)},
        {"category": vending.pk, "unit": unit_id_of(enforcement), "description": "占道经营"},
    ]
    answer = act(district, parent, "split", children=children, note="垃圾与占道分别办理",
                 expected_state="filed")  # fmt: skip
    assert answer.status_code == 200, answer.json()
    assert answer.json()["state"] == State.SPLIT

    detail = client_for(district).get(f"/api/cases/{parent}/").json()
    assert detail["allowed_actions"] == []
    shown = {c["category"]: c for c in detail["children"]}
    assert set(shown) == {garbage.display_name, vending.display_name}
    first, second = shown[garbage.display_name]["id"], shown[vending.display_name]["id"]
    assert shown[vending.display_name]["unit"]["id"] == unit_id_of(enforcement)
    for child_id, unit in ((first, unit_id_of(street)), (second, unit_id_of(enforcement))):
        child = Case.objects.get(pk=child_id)
        assert (child.state, child.unit_id, child.parent_id) == (State.DISPATCHED, unit, parent)
        assert child.due_at is not None and child.geom == Case.objects.get(pk=parent).geom
        assert actions(child) == ["split_from", "dispatch"]
    # Each child's deadline is its own subcategory's limit from the split.
    garbage_child, vending_child = Case.objects.get(pk=first), Case.objects.get(pk=second)
    assert garbage_child.due_at != vending_child.due_at
    assert Case.objects.get(pk=second).description == "占道经营"
    history = Case.objects.get(pk=parent).history.get(action="split")
    assert sorted(history.data["children"]) == sorted([first, second])
    assert client_for(street).get(f"/api/cases/{first}/").json()["parent"] == parent

    _close(loop, street, first)
    assert Case.objects.get(pk=parent).state == State.SPLIT  # one child still open
    _close(loop, enforcement, second)
    closed = Case.objects.get(pk=parent)
    assert closed.state == State.CLOSED and closed.closed_at is not None
    assert actions(closed)[-2:] == ["split", "close"]
    assert closed.history.last().data["children"] == sorted([first, second])  # type: ignore[union-attr]

    # Evaluated, the report was received and filed once; each child was disposed of.
    today = clock.localdate()
    month = Period(start=today.replace(day=1), end=today + dt.timedelta(days=1))
    table = evaluate(loop["city"], by=By.DISTRICT, period=month, now=clock.now())
    total = table.total
    assert isinstance(total, AreaRow)
    assert (total.received, total.filed, total.due, total.closed) == (1, 1, 2, 2)
    [row] = evaluate(loop["city"], by=By.INSPECTOR, period=month, now=clock.now()).rows
    assert isinstance(row, InspectorRow) and row.reported == 1


@clock.travel(MONDAY_10, tick=False)
def test_a_split_is_refused_with_reasons(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    street = loop["street"]
    case_id = int(report(loop["inspector"], small_city).json()["case"]["id"])
    garbage = event_category("0101").pk
    early = act(street, case_id, "split", children=[{"category": garbage}] * 2)
    assert early.status_code == 409  # not filed yet
    act(street, case_id, "file")
    one = act(street, case_id, "split", children=[{"category": garbage}])
    assert one.status_code == 400 and one.json()["field"] == "children"
    major = Category.objects.filter(minor_code="").first()
    assert major is not None
    wrong = act(street, case_id, "split", children=[{"category": garbage}, {"category": major.pk}])
    assert wrong.status_code == 400 and wrong.json()["field"] == "children"
    assert act(loop["enforcement"], case_id, "split",
               children=[{"category": garbage}] * 2).status_code == 404  # fmt: skip
    assert Case.objects.get(pk=case_id).state == State.FILED
    assert not Case.objects.filter(parent_id=case_id).exists()
