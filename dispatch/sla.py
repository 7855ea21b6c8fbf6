"""The SLA worker's step: look at every case whose timer is due (house style principle 5).
The 12345 reply and call-back deadlines are chased in the same pass (dispatch.hotline).

A case's `sla_check_at` says when it must be looked at next (dispatch.deadlines). Each
case is claimed with SELECT … FOR UPDATE SKIP LOCKED in its own short transaction, so
several workers can run at once: each case is handled by exactly one of them, and no
worker holds up intake for longer than one case takes.

A case whose step fails (bad data, a bug) is logged and set aside: its check is pushed
back by settings.SLA_FAILED_CASE_RETRY seconds and the other cases carry on
(healthchecks' sendalerts). A lost database is not a case's fault: that error goes up to
the worker's loop, which reconnects (dispatch/management/commands/run_sla_worker.py).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from dispatch import deadlines, holidays, hotline
from dispatch.routing import territorial_unit, tier_above
from gridmgmt import clock
from incidents.history import record
from incidents.models import CLOCK_STATES, Case, State

log = logging.getLogger(__name__)

WARNING, OVERDUE, SUPERVISE = "warning", "overdue", "supervise"
VERIFY_WARNING, VERIFY_OVERDUE = "verify_warning", "verify_overdue"
FAILED = "failed"  # the step raised: the case is set aside for a while
# The database itself is gone (down, restarted, connection cut): no case is at fault.
DATABASE_LOST = (OperationalError, InterfaceError)


def run_due(*, now: dt.datetime | None = None, limit: int = 1000) -> list[tuple[int, str]]:
    """Handle up to `limit` due cases; returns (case id, what happened) for each."""
    holidays.log_shortage()  # the calendar running out: a warning at most once an hour
    done: list[tuple[int, str]] = []
    failed: set[int] = set()  # never claimed again in this pass, even if setting aside failed
    while len(done) < limit:
        claimed: list[int] = []
        try:
            with transaction.atomic():
                case = _claim(now or clock.now(), failed)
                if case is None:
                    break
                claimed.append(case.pk)
                done.append((case.pk, _step(case, now or clock.now())))
        except DATABASE_LOST:
            raise
        except Exception:
            if not claimed:
                raise  # finding due cases failed: not one case's fault
            failed.add(claimed[0])
            _set_aside(claimed[0], now or clock.now())
            done.append((claimed[0], FAILED))
    # The 12345 reply and call-back deadlines (their own timer column), same pass.
    if len(done) < limit:
        done += hotline.run_due(now=now or clock.now(), limit=limit - len(done))
    return done


def _set_aside(case_id: int, now: dt.datetime) -> None:
    """Called while the step's error is handled: logs it, pushes the case's check back."""
    retry_at = now + dt.timedelta(seconds=settings.SLA_FAILED_CASE_RETRY)
    log.exception("SLA: case %s failed; set aside until %s", case_id, retry_at.isoformat())
    try:
        # Only if still due: another worker may have handled it in the meantime.
        still_due = Case.objects.filter(pk=case_id, sla_check_at__lte=now)
        still_due.update(sla_check_at=retry_at)
    except DATABASE_LOST:
        raise
    except Exception:
        log.exception("SLA: case %s could not be set aside; retried next pass", case_id)


def _claim(now: dt.datetime, failed: set[int]) -> Case | None:
    due = Case.objects.filter(sla_check_at__lte=now).exclude(pk__in=failed)
    due = due.order_by("sla_check_at", "pk")
    locked = due.select_for_update(skip_locked=True, of=("self",))
    return locked.select_related("category", "unit", "district").first()


def _step(case: Case, now: dt.datetime) -> str:
    if case.state == State.HANDLED and case.verify_due_at is not None:
        return _verification_step(case, now)
    if case.state not in CLOCK_STATES or case.due_at is None:
        # The clock stopped by other means (fed back, suspended): nothing to chase.
        case.sla_check_at = None
        case.save(update_fields=["sla_check_at"])
        return "stopped"
    if now < case.due_at:
        case.warned = True
        what, note = WARNING, f"即将超期：处置时限 {_local(case.due_at)}"
    elif not case.overdue:
        case.warned = case.overdue = True
        case.escalation_level = 1
        case.supervising_unit = territorial_unit(case, tier_above(case))
        what, note = OVERDUE, "已超期，催办：由上一级督促处置"
    else:
        case.escalation_level = deadlines.LAST_LEVEL
        case.supervising_unit = territorial_unit(case, "city")
        what, note = SUPERVISE, "超期未处置，市级督办"
    case.sla_check_at = deadlines.next_check(case)
    supervisor = case.supervising_unit_id
    record(case, action=what, from_state=case.state, actor=None, staff=None, note=note,
           data={"due_at": case.due_at.isoformat(), "supervising_unit": supervisor})  # fmt: skip
    return what


def _verification_step(case: Case, now: dt.datetime) -> str:
    """核查时限 (dispatch.deadlines.start_verification): a warning before it, then 核查超期
    once; the verifier is told of both (notifications.rules)."""
    due = case.verify_due_at
    assert due is not None
    if now < due:
        what, note = VERIFY_WARNING, f"核查即将超期：核查时限 {_local(due)}"
        case.sla_check_at = due
    else:
        case.verify_overdue = True
        what, note = VERIFY_OVERDUE, f"核查超期：核查时限 {_local(due)}"
        case.sla_check_at = None
    record(case, action=what, from_state=case.state, actor=None, staff=None, note=note,
           data={"verify_due_at": due.isoformat(), "verifier": case.verifier_id})  # fmt: skip
    return what


def _local(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
