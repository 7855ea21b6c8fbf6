"""Transitions with an expected state: of two actions decided on the same state of one
case, exactly one wins and the other gets a 409 in the API's error shape.

The table alone cannot tell: a new report may be filed (立案) and a filed one may still
be cancelled (注销), so a 立案 and a 注销 that race on one report both succeeded, one after
the other. With `expected_state` the second finds the state changed under the row lock.

The races run on real PostgreSQL, each request in its own thread and connection. The
order is forced, not hoped for: the test holds the case's row lock while both requests
queue behind it, then lets go; PostgreSQL hands the lock on in the order they asked."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, connections, transaction

from incidents.models import Case, CaseEvent, State
from layers.models import Area, Role, Unit
from tests.loop import act, add_staff, client_for, report, set_up_loop

pytestmark = pytest.mark.django_db(transaction=True)
STALE = State.REPORTED.value  # what both actors saw


@pytest.fixture(autouse=True)
def no_rate_limits(settings: Any) -> None:
    """Without rates: these tests send more requests from one address than a minute's
    allowance (a scope without a rate is not limited, accounts.throttling)."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {}}


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def _until_waiting(n: int) -> None:
    deadline = time.monotonic() + 30  # a busy machine: the requests pass middleware first
    while _waiting_on_locks() < n:
        assert time.monotonic() < deadline, f"{n} requests never queued for the row lock"
        time.sleep(0.02)


def _post(user: User, case_id: int, action: str, body: dict[str, Any], out: dict[str, Any]) -> None:
    try:
        answer = client_for(user).post(f"/api/cases/{case_id}/{action}/", body, format="json")
        out[action] = (answer.status_code, answer.json())
    finally:
        connections.close_all()


def _race_in_order(
    first: tuple[User, str, dict[str, Any]],
    second: tuple[User, str, dict[str, Any]],
    case_id: int,
) -> dict[str, Any]:
    """Both requests reach the row lock while this test holds it; `first` is queued
    first, so it takes the lock first once the test lets go."""
    out: dict[str, Any] = {}
    threads = []
    with transaction.atomic():
        Case.objects.select_for_update().get(pk=case_id)
        for queued, (user, action, body) in enumerate((first, second), start=1):
            thread = threading.Thread(target=_post, args=(user, case_id, action, body, out))
            thread.start()
            threads.append(thread)
            _until_waiting(queued)
    for thread in threads:
        thread.join(timeout=30)
    return out


@pytest.fixture
def new_report(cast: dict[str, User], small_city: dict[str, Area]) -> tuple[int, User, User]:
    """A report waiting to be filed, and two dispatchers of its street."""
    set_up_loop()
    case_id = report(cast["inspector"], small_city).json()["case"]["id"]
    assert Case.objects.get(pk=case_id).state == State.REPORTED
    unit = Unit.objects.get(pk=cast["street"].staff.unit_id)
    return case_id, cast["street"], add_staff("street-b", Role.STREET, unit)


def test_a_file_queued_first_wins_and_the_racing_cancel_gets_409(
    new_report: tuple[int, User, User],
) -> None:
    case_id, one, other = new_report
    out = _race_in_order(
        (one, "file", {"expected_state": "reported"}),
        (other, "cancel", {"reason": "不属于城市管理范围", "expected_state": "reported"}),
        case_id,
    )
    assert out["file"][0] == 200, out
    # Without the expected state the cancel would follow the file (a filed case may be
    # cancelled): both would answer 200.
    status, body = out["cancel"]
    assert status == 409, out
    assert body["code"] == "conflict" and body["field"] == "expected_state"
    assert "已立案" in body["detail"] and "已上报" in body["detail"]
    case = Case.objects.get(pk=case_id)
    assert case.state == State.FILED
    assert list(CaseEvent.objects.filter(case=case).values_list("action", flat=True)) == [
        "report",
        "file",
    ]


def test_a_cancel_queued_first_wins_and_the_racing_file_gets_409(
    new_report: tuple[int, User, User],
) -> None:
    case_id, one, other = new_report
    out = _race_in_order(
        (other, "cancel", {"reason": "重复上报", "expected_state": "reported"}),
        (one, "file", {"expected_state": "reported"}),
        case_id,
    )
    assert out["cancel"][0] == 200, out
    assert out["file"][0] == 409, out
    assert out["file"][1]["code"] == "conflict"
    assert Case.objects.get(pk=case_id).state == State.CANCELLED
    assert not CaseEvent.objects.filter(case_id=case_id, action="file").exists()


def test_racing_file_and_cancel_released_together_have_exactly_one_winner(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    """No forced order: both wait at a barrier, then post. Whoever wins, the other
    gets 409 and the history holds one decision."""
    set_up_loop()
    unit = Unit.objects.get(pk=cast["street"].staff.unit_id)
    other = add_staff("street-b", Role.STREET, unit)
    for _round in range(4):
        case_id = report(cast["inspector"], small_city).json()["case"]["id"]
        barrier = threading.Barrier(2)
        out: dict[str, Any] = {}

        def go(
            user: User,
            action: str,
            body: dict[str, Any],
            case_id: int = case_id,
            barrier: threading.Barrier = barrier,
            out: dict[str, Any] = out,
        ) -> None:
            barrier.wait()
            _post(user, case_id, action, body, out)

        cancel = {"reason": "无效", "expected_state": STALE}
        threads = [
            threading.Thread(target=go, args=(cast["street"], "file", {"expected_state": STALE})),
            threading.Thread(target=go, args=(other, "cancel", cancel)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(status for status, _body in out.values()) == [200, 409], out
        decisions = CaseEvent.objects.filter(case_id=case_id, action__in=["file", "cancel"])
        assert decisions.count() == 1


def test_every_action_refuses_a_stale_expected_state_and_changes_nothing(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    case_id = report(loop["inspector"], small_city).json()["case"]["id"]
    assert act(loop["street"], case_id, "file", expected_state="reported").status_code == 200
    stale = act(loop["street"], case_id, "dispatch", expected_state="reported")
    assert stale.status_code == 409
    assert stale.json()["field"] == "expected_state"
    assert Case.objects.get(pk=case_id).state == State.FILED
    assert act(loop["street"], case_id, "dispatch", expected_state="filed").status_code == 200
    unknown = act(loop["street"], case_id, "sign", expected_state="nonsense")
    assert unknown.status_code == 400
    assert "expected_state" in unknown.json()
