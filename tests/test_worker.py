"""The SLA worker outlives its faults (dispatch/sla.py, run_sla_worker): a case whose step
fails is set aside and the others carry on; each pass leaves a heartbeat; the worker
survives its database being stopped and started under it (a PostgreSQL cluster of the
test's own) and a Redis it cannot reach, and picks up where it left off."""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from dispatch.models import WorkerHeartbeat
from dispatch.sla import run_due
from gridmgmt import clock
from incidents.models import Case, CaseEvent
from layers.models import Area, Unit
from tests.loop import act, report, set_up_loop
from tests.pgcluster import own_postgres, wait_for
from tests.servers import ROOT, free_port

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def _dispatched(cast: dict[str, User], city: dict[str, Area]) -> int:
    case_id = int(report(cast["inspector"], city).json()["case"]["id"])
    act(cast["street"], case_id, "file")
    act(cast["street"], case_id, "dispatch")
    return case_id


def _poison(case_id: int) -> Unit:
    """Bad data: the case's unit has a tier no code knows (Unit.tier is free text, say
    from an old import), so marking the case overdue, which escalates one tier above its
    unit, fails. Its warning does not need the tier."""
    case = Case.objects.select_related("unit").get(pk=case_id)
    assert case.unit is not None
    unit = Unit.objects.create(name="旧系统导入单位", tier="legacy", area=case.unit.area)
    Case.objects.filter(pk=case_id).update(unit=unit)
    return unit


def test_a_failing_case_is_set_aside_and_the_others_carry_on(
    cast: dict[str, User], small_city: dict[str, Area], caplog: pytest.LogCaptureFixture
) -> None:
    set_up_loop()
    with clock.travel(at(23, 10), tick=False):  # Monday; deadline 16:00
        first, poisoned, last = (_dispatched(cast, small_city) for _ in range(3))
    unit = _poison(poisoned)
    with clock.travel(at(23, 15, 13), tick=False):
        assert run_due() == [(first, "warning"), (poisoned, "warning"), (last, "warning")]

    with clock.travel(at(23, 16, 1), tick=False), caplog.at_level(logging.ERROR):
        assert run_due() == [(first, "overdue"), (poisoned, "failed"), (last, "overdue")]
        assert run_due() == []  # set aside, not retried at once
    [failure] = [r for r in caplog.records if r.name == "dispatch.sla"]
    assert f"case {poisoned} failed" in failure.getMessage()
    assert failure.exc_info is not None and "legacy" in str(failure.exc_info[1])
    case = Case.objects.get(pk=poisoned)
    assert case.sla_check_at == at(23, 16, 11)  # SLA_FAILED_CASE_RETRY: 10 minutes later
    assert not case.overdue and case.escalation_level == 0
    assert not CaseEvent.objects.filter(case=case, action="overdue").exists()

    with clock.travel(at(23, 16, 12), tick=False):
        assert run_due() == [(poisoned, "failed")]  # still bad: set aside again
    Unit.objects.filter(pk=unit.pk).update(tier="street")  # the data is mended
    with clock.travel(at(23, 16, 23), tick=False):
        assert run_due() == [(poisoned, "overdue")]
    assert Case.objects.get(pk=poisoned).overdue


def test_each_pass_leaves_a_heartbeat(cast: dict[str, User], small_city: dict[str, Area]) -> None:
    assert not WorkerHeartbeat.objects.exists()
    with clock.travel(at(23, 10), tick=False):
        call_command("run_sla_worker", "--once", stdout=io.StringIO())
    with clock.travel(at(23, 10, 1), tick=False):
        call_command("run_sla_worker", "--once", stdout=io.StringIO())
    beat = WorkerHeartbeat.objects.get(worker="sla")
    assert (beat.beat_at, beat.passes) == (at(23, 10, 1), 2)


def _heartbeat(db: object) -> tuple[int, dt.datetime] | None:
    row = db.execute(  # type: ignore[attr-defined]
        "SELECT passes, beat_at FROM dispatch_workerheartbeat WHERE worker = 'sla'"
    ).fetchone()
    return (int(row[0]), row[1]) if row else None


@pytest.mark.django_db(transaction=True)
def test_the_worker_survives_its_database_restarted_under_it(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    set_up_loop()
    case_id = _dispatched(cast, small_city)
    with own_postgres() as cluster:
        url = cluster.copy_test_database("gridmgmt_worker")
        env = {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
        # No Redis listens there: the live events of its passes cannot be sent.
        env["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
        log = (ROOT / "var" / "test-sla-worker.log").open("w+")
        command = [sys.executable, "manage.py", "run_sla_worker", "--interval", "0.2"]
        worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)  # noqa: S603
        try:
            db = cluster.connect("gridmgmt_worker")
            wait_for(lambda: _heartbeat(db) is not None, timeout=30, step=0.2)

            cluster.stop("immediate")
            time.sleep(3)  # a few failed passes
            assert worker.poll() is None, log.seek(0) or log.read()
            cluster.start()
            db = cluster.connect("gridmgmt_worker")
            restarted = db.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
            wait_for(lambda: (_heartbeat(db) or (0, restarted))[1] > restarted, 30, 0.2)

            # It goes on chasing deadlines: a case due now is handled, its live event
            # kept in the outbox for the clients to catch up with (Redis is unreachable).
            db.execute("UPDATE incidents_case SET sla_check_at = now() WHERE id = %s", [case_id])
            events = "SELECT action FROM incidents_caseevent WHERE case_id = %s ORDER BY id"
            wait_for(lambda: db.execute(events, [case_id]).fetchall()[-1][0] != "dispatch", 15)
            [(action,)] = db.execute(events + " DESC LIMIT 1", [case_id]).fetchall()
            assert action in {"warning", "overdue"}
            outbox = "SELECT kind FROM incidents_outbox WHERE case_id = %s ORDER BY seq DESC"
            assert db.execute(outbox, [case_id]).fetchone() == (f"case.{action}",)
            assert worker.poll() is None
        finally:
            worker.terminate()
            worker.wait(timeout=15)
            log.seek(0)
            output = log.read()
            log.close()
            Path(log.name).unlink(missing_ok=True)
    assert worker.returncode == 0  # stopped by SIGTERM, cleanly
    assert "SLA worker: database unavailable" in output
    assert "SLA worker: back after" in output
    assert f"case {case_id}: {action}" in output
