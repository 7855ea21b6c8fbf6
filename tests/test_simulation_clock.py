"""One clock for the workers: `--clock-start` and `--clock-rate` run a real worker's loop
at a past, accelerated time, and its steps land at the clock's time (gridmgmt.clock)."""

from __future__ import annotations

import datetime as dt
import io
import os
import signal
import threading
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from gridmgmt import clock
from incidents.models import Case, CaseEvent
from layers.models import Area
from tests.loop import act, report, set_up_loop

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = dt.datetime(2026, 11, 23, tzinfo=SHANGHAI)
RATE = 1200.0  # one real second is 20 clock minutes


def _stop_after(seconds: float) -> threading.Timer:
    """SIGTERM to this process after `seconds`: the worker's loop ends as under
    `make run`'s supervisor (its handler sets the stop flag)."""
    timer = threading.Timer(seconds, os.kill, args=(os.getpid(), signal.SIGTERM))
    timer.start()
    return timer


def test_the_sla_worker_loop_runs_on_an_accelerated_clock(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    set_up_loop()
    with clock.travel(MONDAY.replace(hour=10)):
        case_id = int(report(cast["inspector"], small_city).json()["case"]["id"])
        act(cast["street"], case_id, "file")
        act(cast["street"], case_id, "dispatch")  # 暴露垃圾: 4 working hours
    case = Case.objects.get(pk=case_id)
    warn_at, due_at = MONDAY.replace(hour=15, minute=12), MONDAY.replace(hour=16)
    assert (case.warn_at, case.due_at) == (warn_at, due_at)

    # From 15:00 at 1,200 × real time: the warning is due after 0.6 s, the deadline after
    # 3 s; the worker is stopped after 3.6 s (16:12 on its clock).
    out = io.StringIO()
    handler = signal.getsignal(signal.SIGTERM)
    timer = _stop_after(3.6)
    try:
        call_command(
            "run_sla_worker",
            clock_start="2026-11-23T15:00:00+08:00",
            clock_rate=RATE,
            interval=0.02,
            stdout=out,
        )
    finally:
        timer.cancel()
    assert out.getvalue().splitlines() == [f"case {case_id}: warning", f"case {case_id}: overdue"]
    steps = dict(CaseEvent.objects.filter(case_id=case_id).values_list("action", "at"))
    # Each step at its clock time, late by no more than a few passes of the worker
    # (0.02 s = 24 clock seconds each) and the time a pass takes on a loaded machine.
    late = dt.timedelta(minutes=10)
    assert warn_at <= steps["warning"] < warn_at + late
    assert due_at <= steps["overdue"] < due_at + late
    case.refresh_from_db()
    assert case.overdue and case.escalation_level == 1
    # The worker's clock was its own: the process's clock and signal handler are back.
    assert abs(clock.now() - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert signal.getsignal(signal.SIGTERM) == handler


def test_a_worker_refuses_a_rate_without_a_start(db: None) -> None:
    with pytest.raises(CommandError, match="--clock-rate needs --clock-start"):
        call_command("run_sla_worker", "--once", "--clock-rate", "60")


def test_a_stopped_clock_gives_every_pass_one_moment(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    """--clock-rate 0: a worker's pass sees the moment given, as the heartbeat shows."""
    from dispatch.models import WorkerHeartbeat

    call_command(
        "run_notify_worker", "--once", "--clock-start", "2026-11-23T09:30", "--clock-rate", "0",
        stdout=io.StringIO(),
    )  # fmt: skip
    beat = WorkerHeartbeat.objects.get(worker="notify")
    assert beat.beat_at == MONDAY.replace(hour=9, minute=30)  # no offset: local time
