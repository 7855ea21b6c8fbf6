"""Deadlines chased by the SLA worker, under frozen time: warning, overdue (催办, next tier
supervises), 督办 by the city; several workers at once never handle a case twice."""

from __future__ import annotations

import datetime as dt
import io
import threading
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection

from dispatch.sla import run_due
from gridmgmt import clock
from incidents.models import Case, CaseEvent
from layers.models import Area
from tests.loop import act, client_for, outbox_kinds, photo, report, set_up_loop

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def _dispatched(cast: dict[str, User], city: dict[str, Area]) -> int:
    case_id = int(report(cast["inspector"], city).json()["case"]["id"])
    act(cast["street"], case_id, "file")
    act(cast["street"], case_id, "dispatch")
    return case_id


def test_it_warns_then_escalates_an_overdue_case(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    set_up_loop()
    with clock.travel(at(23, 10), tick=False):  # Monday
        case_id = _dispatched(cast, small_city)  # 暴露垃圾: 4 working hours → 16:00
        assert run_due() == []
    case = Case.objects.get(pk=case_id)
    # 80% of 4 office hours = 3 h 12 min of office time: 10:00–12:00, then 14:00–15:12.
    assert case.warn_at == at(23, 15, 12) and case.due_at == at(23, 16)

    with clock.travel(at(23, 15, 13), tick=False):
        assert run_due() == [(case_id, "warning")]
        assert run_due() == []  # handled once
    with clock.travel(at(23, 16, 1), tick=False):
        assert run_due() == [(case_id, "overdue")]
    case.refresh_from_db()
    assert case.overdue and case.escalation_level == 1
    assert case.supervising_unit is not None and case.supervising_unit.name == "天河区指挥中心"
    # The supervising district sees it among its overdue cases.
    listed = client_for(cast["district"]).get("/api/cases/?overdue=true").json()
    assert [c["id"] for c in listed["results"]] == [case_id]

    # 督办 one more limit's length (6 h of wall time) after the deadline.
    with clock.travel(at(23, 21, 59), tick=False):
        assert run_due() == []
    with clock.travel(at(23, 22, 1), tick=False):
        assert run_due() == [(case_id, "supervise")]
    case.refresh_from_db()
    assert case.escalation_level == 2 and case.sla_check_at is None
    assert case.supervising_unit is not None and case.supervising_unit.name == "广州市指挥中心"
    assert outbox_kinds(case)[-3:] == ["case.warning", "case.overdue", "case.supervise"]
    # Late feedback: the case closes, not on time.
    with clock.travel(at(24, 9), tick=False):
        act(cast["street"], case_id, "sign")
        act(cast["street"], case_id, "handle", note="已清理", photos=[photo()])
        act(cast["inspector"], case_id, "verify", passed=True)
        act(cast["street"], case_id, "close")
    case.refresh_from_db()
    assert case.closed_on_time is False


def test_feedback_stops_the_clock(cast: dict[str, User], small_city: dict[str, Area]) -> None:
    set_up_loop()
    with clock.travel(at(23, 10), tick=False):
        case_id = _dispatched(cast, small_city)
        act(cast["street"], case_id, "sign")
        act(cast["street"], case_id, "handle", note="已清理", photos=[photo()])
    with clock.travel(at(24, 10), tick=False):
        assert run_due() == []
    assert not Case.objects.get(pk=case_id).overdue


@pytest.mark.django_db(transaction=True)
def test_workers_running_at_once_handle_each_case_exactly_once(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    set_up_loop()
    with clock.travel(at(23, 10), tick=False):
        ids = {_dispatched(cast, small_city) for _ in range(12)}
    done: list[list[tuple[int, str]]] = []

    def worker() -> None:
        try:
            done.append(run_due(now=at(23, 15, 30)))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    handled = [case_id for batch in done for case_id, _ in batch]
    assert sorted(handled) == sorted(ids)  # every case once, none twice
    assert CaseEvent.objects.filter(action="warning").count() == len(ids)


def test_the_worker_command_runs_one_pass(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    set_up_loop()
    with clock.travel(at(23, 10), tick=False):
        case_id = _dispatched(cast, small_city)
    out = io.StringIO()
    with clock.travel(at(23, 16, 30), tick=False):
        call_command("run_sla_worker", "--once", stdout=out)
    # Past both the warning time and the deadline: straight to overdue, no late warning.
    assert out.getvalue().splitlines() == [f"case {case_id}: overdue"]
    assert Case.objects.get(pk=case_id).warned
