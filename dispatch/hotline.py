"""12345 work orders in the workflow: the reply clock (答复时限), the call-back (回访) and
its deadline, 重办 after a 不满意 call-back, and the SLA worker's step for these
deadlines (the disposal clock of every case is dispatch.deadlines).

A ticket's reply is due `reply_limit` after its intake, counted as its HotlineTerm row
says (calendar hours for 紧急 and 水电气, working days for 一般 and 复杂: the admin edits
them). Once the unit replies, the hotline's call-back is due `callback_limit` after the
reply. `hotline_check_at` is when the SLA worker must next look: at the reply deadline
until the reply, then at the call-back deadline until the call-back; a missed deadline
is written into the history once (答复超期, 回访超期) and counted by the evaluation.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from dispatch import calendar
from dispatch.models import HotlineTerm, Stage, StageLimit, TicketKind
from incidents.history import record
from incidents.models import Case, ReplyTerm, State, TicketType

log = logging.getLogger(__name__)

REPLY_OVERDUE, CALLBACK_OVERDUE = "reply_overdue", "callback_overdue"
# Cases that leave the workflow without an answer to give (注销, 合并): no timer runs.
NO_REPLY_STATES = frozenset({State.CANCELLED, State.MERGED})


# The defaults the migrations write (dispatch 0004, 0005, 0006), for a database emptied since
# (a flushed test database): (term, reply limit, unit, call-back limit, unit).
DEFAULT_TERMS = [
    (ReplyTerm.URGENT, 2, "calendar_hours", 4, "calendar_hours"),
    (ReplyTerm.UTILITIES, 24, "calendar_hours", 1, "working_days"),
    (ReplyTerm.GENERAL, 7, "working_days", 2, "working_days"),
    (ReplyTerm.COMPLEX, 15, "working_days", 2, "working_days"),
]
DEFAULT_KINDS = [
    (TicketType.CONSULT, ReplyTerm.GENERAL, True),
    (TicketType.HELP, ReplyTerm.GENERAL, False),
    (TicketType.COMPLAINT, ReplyTerm.GENERAL, False),
    (TicketType.TIPOFF, ReplyTerm.GENERAL, False),
    (TicketType.SUGGESTION, ReplyTerm.COMPLEX, False),
    (TicketType.PRAISE, ReplyTerm.GENERAL, False),
    (TicketType.OTHER, ReplyTerm.GENERAL, False),
]


def ensure_defaults() -> None:
    """Write the default limits and ticket types where a row is missing (rows that exist,
    edited or not, are left as they are)."""
    for term, reply, reply_unit, callback, callback_unit in DEFAULT_TERMS:
        HotlineTerm.objects.get_or_create(
            term=term,
            defaults={"reply_limit": reply, "reply_unit": reply_unit,
                      "callback_limit": callback, "callback_unit": callback_unit},
        )  # fmt: skip
    for ticket_type, default_term, direct in DEFAULT_KINDS:
        TicketKind.objects.get_or_create(
            ticket_type=ticket_type, defaults={"default_term": default_term, "direct_close": direct}
        )
    StageLimit.objects.get_or_create(
        stage=Stage.FILE, defaults={"limit": 1, "unit": "working_hours"}
    )
    StageLimit.objects.get_or_create(
        stage=Stage.VERIFY, defaults={"limit": 1, "unit": "working_days"}
    )


def is_ticket(case: Case) -> bool:
    """A 12345 work order: a hotline case with a ticket type (tickets of the pages before
    ticket types, and Open311 requests, have none and no reply clock)."""
    return bool(case.ticket_type)


def term_for(case: Case) -> str:
    """The reply term: the operator's choice, 紧急 for an urgent ticket, else the type's."""
    if case.urgent:
        return ReplyTerm.URGENT
    if case.reply_term:
        return case.reply_term
    kind = TicketKind.objects.filter(ticket_type=case.ticket_type).first()
    return kind.default_term if kind else ReplyTerm.GENERAL


def direct_close_types() -> frozenset[str]:
    """The ticket types the hotline may close on the phone (直接办结), from the data."""
    kinds = TicketKind.objects.filter(direct_close=True).values_list("ticket_type", flat=True)
    return frozenset(kinds)


def _term(case: Case) -> HotlineTerm | None:
    return HotlineTerm.objects.filter(term=case.reply_term).first()


def start_reply_clock(case: Case, at: dt.datetime) -> None:
    """A new round: intake, or 重办. The reply is due by the term's limit from `at`; the
    fields of the previous round's reply and call-back are cleared (the history keeps
    them)."""
    case.reply_term = term_for(case)
    case.reply, case.replied_at, case.reply_overdue = "", None, False
    case.callback_due_at = case.callback_at = case.callback_reached = None
    case.callback_tries, case.callback_overdue, case.satisfaction = 0, False, ""
    term = _term(case)
    case.reply_due_at = (
        calendar.deadline(at, term.reply_limit, term.reply_unit) if term is not None else None
    )
    case.hotline_check_at = next_check(case)


def replied(case: Case, text: str, at: dt.datetime) -> None:
    """The unit's reply is in: the call-back is due from now."""
    case.reply, case.replied_at = text, at
    term = _term(case)
    case.callback_due_at = (
        calendar.deadline(at, term.callback_limit, term.callback_unit) if term else None
    )
    case.hotline_check_at = next_check(case)


def callback_tries_allowed(case: Case) -> int:
    term = _term(case)
    return term.callback_tries if term is not None else 3


def next_check(case: Case) -> dt.datetime | None:
    """When the SLA worker must next look at the ticket (None: nothing to chase)."""
    if case.state in NO_REPLY_STATES:
        return None
    if case.replied_at is None:
        return None if case.reply_overdue else case.reply_due_at
    if case.callback_at is None:
        return None if case.callback_overdue else case.callback_due_at
    return None


def run_due(*, now: dt.datetime, limit: int) -> list[tuple[int, str]]:
    """The SLA worker's pass over the hotline deadlines: each due ticket claimed with
    SKIP LOCKED in its own transaction, as dispatch.sla does for the disposal clock; a
    ticket whose step fails is set aside like a case there."""
    done: list[tuple[int, str]] = []
    failed: set[int] = set()
    while len(done) < limit:
        claimed: list[int] = []
        try:
            with transaction.atomic():
                due = Case.objects.filter(hotline_check_at__lte=now).exclude(pk__in=failed)
                case = (
                    due.order_by("hotline_check_at", "pk")
                    .select_for_update(skip_locked=True, of=("self",))
                    .select_related("category", "unit", "district")
                    .first()
                )
                if case is None:
                    break
                claimed.append(case.pk)
                done.append((case.pk, _step(case, now)))
        except (OperationalError, InterfaceError):
            raise  # the database is gone: the worker's loop reconnects
        except Exception:
            if not claimed:
                raise
            failed.add(claimed[0])
            log.exception("SLA: hotline deadline of case %s failed; set aside", claimed[0])
            retry = now + dt.timedelta(seconds=settings.SLA_FAILED_CASE_RETRY)
            Case.objects.filter(pk=claimed[0], hotline_check_at__lte=now).update(
                hotline_check_at=retry
            )
            done.append((claimed[0], "failed"))
    return done


def _step(case: Case, now: dt.datetime) -> str:
    what = ""
    if case.state in NO_REPLY_STATES:
        what = "stopped"
    elif case.replied_at is None and case.reply_due_at and now >= case.reply_due_at:
        case.reply_overdue = True
        what = REPLY_OVERDUE
        note = f"答复超期：答复时限 {_local(case.reply_due_at)}"
        data = {"reply_due_at": case.reply_due_at.isoformat(), "unit": case.unit_id}
    elif case.callback_at is None and case.callback_due_at and now >= case.callback_due_at:
        case.callback_overdue = True
        what = CALLBACK_OVERDUE
        note = f"回访超期：回访时限 {_local(case.callback_due_at)}"
        data = {"callback_due_at": case.callback_due_at.isoformat()}
    case.hotline_check_at = next_check(case)
    if what in {REPLY_OVERDUE, CALLBACK_OVERDUE}:
        record(case, action=what, from_state=case.state, actor=None, staff=None, note=note,
               data=data)  # fmt: skip
        return what
    # Nothing due after all (answered meanwhile, or the deadline moved): reschedule.
    case.save(update_fields=["hotline_check_at"])
    return what or "rescheduled"


def _local(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


__all__ = [
    "CALLBACK_OVERDUE",
    "REPLY_OVERDUE",
    "TicketType",
    "callback_tries_allowed",
    "direct_close_types",
    "ensure_defaults",
    "is_ticket",
    "next_check",
    "replied",
    "run_due",
    "start_reply_clock",
    "term_for",
]
