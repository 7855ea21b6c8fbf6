"""From case events to inbox items and messages: the delivery worker reads the live
events (incidents.models.Outbox) after its cursor, in sequence order, and writes what
each person is told (notifications.rules) in the same transaction that moves the cursor:
every event is handled once, also with several copies of the worker (the cursor row is
locked for the pass; a second copy finds it locked and leaves the events to the first).

Sequence numbers are handed out in commit order (incidents.outbox._next_seq), so reading
up to the committed counter misses nothing. After commit each person told is pushed a
notice on the live socket (inbox_group) so their inbox updates at once."""

from __future__ import annotations

import logging
from collections import Counter

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from incidents.models import Case, Outbox
from incidents.outbox import last_seq, publisher
from notifications import rules
from notifications.models import (
    Kind,
    Message,
    Notification,
    OutboxCursor,
    Preference,
    Transport,
)

log = logging.getLogger(__name__)

CURSOR = "notifications"
NOTICE_TYPE = "inbox.new"  # the live consumer's method: inbox_new


def inbox_group(user_id: int) -> str:
    """The channel-layer group of a user's inbox (the live socket joins it)."""
    return f"inbox.user.{user_id}"


def collect(*, limit: int = 500) -> int:
    """Handle up to `limit` new case events; the number handled."""
    told: Counter[int] = Counter()
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


def _messages_for(item: Notification, case: Case) -> None:
    user = User.objects.get(pk=item.user_id)
    preference = Preference.objects.filter(user=user).first() or Preference(user=user)
    if preference.email and user.email:
        _queue(Transport.EMAIL, user.email, Kind(item.kind), case, item)
    if preference.sms and preference.phone:
        _queue(Transport.SMS, preference.phone, Kind(item.kind), case, item)


def _queue(
    transport: Transport, to: str, kind: Kind, case: Case, item: Notification | None
) -> Message:
    subject, body = compose(kind, case)
    now = timezone.now()
    return Message.objects.create(
        transport=transport, to=to, subject=subject, body=body, notification=item, case=case,
        created_at=now, next_attempt_at=now,
    )  # fmt: skip


def compose(kind: Kind, case: Case) -> tuple[str, str]:
    """Subject and text of a message, in the site's language (messages leave the site:
    the reader's page language is not known there)."""
    with translation.override(settings.LANGUAGE_CODE):
        subject = f"{Kind(kind).label} #{case.pk}"
        place = case.address_text or ""
        body = f"{case.category.display_name} {place}".strip()
        if case.due_at and kind in (Kind.ASSIGNED, Kind.WARNING, Kind.OVERDUE, Kind.SUPERVISE):
            due = timezone.localtime(case.due_at).strftime("%Y-%m-%d %H:%M")
            body += "\n" + str(_("处置时限：%(due)s") % {"due": due})
    return subject, body


def _push(told: dict[int, int]) -> None:
    for user_id in told:
        message = {"type": NOTICE_TYPE, "unread": unread_count(user_id)}
        publisher.tell(inbox_group(user_id), message)


def unread_count(user_id: int) -> int:
    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()
