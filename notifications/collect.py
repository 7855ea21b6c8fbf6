"""From case events to inbox items and messages: the delivery worker reads the live
events (incidents.models.Outbox) after its cursor, in sequence order, and writes what
each person is told (notifications.rules) in the same transaction that moves the cursor:
every event is handled once, also with several copies of the worker (the cursor row is
locked for the pass; a second copy finds it locked and leaves the events to the first).

Events are numbered after commit by the sequencer (incidents.outbox.sequence), which
moves the counter in the transaction that numbers them, so reading up to the committed
counter misses nothing. Each pass runs the sequencer first: events a process left
unnumbered (it died between its commit and its numbering) are numbered within a pass.
After commit each person told is pushed a notice on the live socket (inbox_group) so
their inbox updates at once."""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from gridmgmt import clock
from incidents.models import Case, Outbox
from incidents.outbox import last_seq, publish, publisher, sequence
from notifications import rules
from notifications.models import (
    Kind,
    Message,
    Notification,
    OutboxCursor,
    Preference,
    Transport,
)

if TYPE_CHECKING:
    from stewardship.models import Proposal

log = logging.getLogger(__name__)

CURSOR = "notifications"
NOTICE_TYPE = "inbox.new"  # the live consumer's method: inbox_new


def inbox_group(user_id: int) -> str:
    """The channel-layer group of a user's inbox (the live socket joins it)."""
    return f"inbox.user.{user_id}"


def collect(*, limit: int = 500) -> int:
    """Handle up to `limit` new case events; the number handled."""
    told: Counter[int] = Counter()
    for event in sequence():  # outside the pass's transaction: the lock is short
        publish(event)
    with transaction.atomic():
        cursor = _lock_cursor()
        if cursor is None:
            return 0  # another copy is reading
        upto = last_seq()
        events = Outbox.objects.filter(seq__gt=cursor.last_seq, seq__lte=upto).order_by("seq")
        handled = 0
        for event in events.exclude(case__isnull=True)[:limit]:
            for user_id in _handle(event):
                told[user_id] += 1
            cursor.last_seq = event.seq
            handled += 1
        if handled < limit:
            cursor.last_seq = upto  # events without a case are passed over too
        cursor.save(update_fields=["last_seq"])
        users = dict(told)
        transaction.on_commit(lambda: _push(users))
    return handled


def _lock_cursor() -> OutboxCursor | None:
    OutboxCursor.objects.get_or_create(name=CURSOR)
    return OutboxCursor.objects.select_for_update(skip_locked=True).filter(name=CURSOR).first()


def _handle(event: Outbox) -> list[int]:
    assert event.case_id is not None  # collect() passes only events about a case
    case = Case.objects.select_related("category").get(pk=event.case_id)
    told = []
    for user_id, kind in rules.recipients(event, case):
        item, created = Notification.objects.get_or_create(
            user_id=user_id, seq=event.seq, kind=kind, defaults={"case": case, "at": event.at}
        )
        if created:
            told.append(user_id)
            _messages_for(item, case)
    if event.kind == "case.close" and case.caller_phone and rules.caller_opted_in(case):
        _queue(Transport.SMS, case.caller_phone, Kind.CLOSED, case, None)
    return told


def _messages_for(item: Notification, case: Case | None, proposal: Proposal | None = None) -> None:
    user = User.objects.get(pk=item.user_id)
    preference = Preference.objects.filter(user=user).first() or Preference(user=user)
    language = preference.message_language()
    for transport in preference.transports(item.kind, user.email):
        to = user.email if transport == Transport.EMAIL else preference.phone
        _queue(transport, to, Kind(item.kind), case, item, language=language, proposal=proposal)


def _queue(
    transport: Transport,
    to: str,
    kind: Kind,
    case: Case | None,
    item: Notification | None,
    *,
    language: str | None = None,
    proposal: Proposal | None = None,
) -> Message:
    subject, body = compose(kind, case, language=language, proposal=proposal)
    now = clock.now()
    return Message.objects.create(
        transport=transport, to=to, subject=subject, body=body, notification=item, case=case,
        created_at=now, next_attempt_at=now,
    )  # fmt: skip


def compose(
    kind: Kind,
    case: Case | None,
    *,
    language: str | None = None,
    proposal: Proposal | None = None,
) -> tuple[str, str]:
    """Subject and text of a message, in the recipient's language (their preference; a
    12345 caller's is the site's): the page's language is not known where it is read."""
    with translation.override(language or settings.LANGUAGE_CODE):
        if proposal is not None:
            return _proposal_text(kind, proposal)
        assert case is not None  # every other kind is about a case
        subject = f"{Kind(kind).label} #{case.pk}"
        place = case.address_text or ""
        body = f"{case.category.display_name} {place}".strip()
        if case.due_at and kind in (Kind.ASSIGNED, Kind.WARNING, Kind.OVERDUE, Kind.SUPERVISE):
            due = timezone.localtime(case.due_at).strftime("%Y-%m-%d %H:%M")
            body += "\n" + str(_("处置时限：%(due)s") % {"due": due})
    return subject, body


def _proposal_text(kind: Kind, proposal: Proposal) -> tuple[str, str]:
    model = proposal.layer.model_class()
    layer = str(model._meta.verbose_name) if model is not None else ""
    subject = f"{Kind(kind).label} #{proposal.pk}"
    body = f"{layer} {proposal.note}".strip()
    if proposal.reason:
        body += "\n" + str(_("驳回原因：%(reason)s") % {"reason": proposal.reason})
    return subject, body


def tell_proposal(proposal: Proposal) -> None:
    """Tell the proposer how their proposal was decided: an inbox item, the messages they
    chose, a live notice after commit. Called in the transaction that decides it."""
    kind = Kind.PROPOSAL_ACCEPTED if proposal.status == "accepted" else Kind.PROPOSAL_REJECTED
    item = Notification.objects.create(
        user_id=proposal.proposer_id, kind=kind, proposal=proposal, at=clock.now()
    )
    _messages_for(item, None, proposal)
    told = {proposal.proposer_id: 1}
    transaction.on_commit(lambda: _push(told))


def _push(told: dict[int, int]) -> None:
    for user_id in told:
        message = {"type": NOTICE_TYPE, "unread": unread_count(user_id)}
        publisher.tell(inbox_group(user_id), message)


def unread_count(user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()
