"""Delivering the messages (notifications.models.Message): claim the due ones, send each
by its transport, store the outcome. A failure is retried with back-off (models.backoff)
up to NOTIFY_MAX_ATTEMPTS; then the message is marked failed with its last error."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction

from gridmgmt import clock
from notifications import transports
from notifications.models import DeliveryState, Message, backoff

log = logging.getLogger(__name__)


def deliver_due(*, now: dt.datetime | None = None, limit: int = 100) -> list[tuple[int, str]]:
    """Send up to `limit` due messages; (message id, new state) for each attempt."""
    done: list[tuple[int, str]] = []
    for _ in range(limit):
        outcome = _deliver_one(now or clock.now())
        if outcome is None:
            break
        done.append(outcome)
    return done


def _deliver_one(now: dt.datetime) -> tuple[int, str] | None:
    with transaction.atomic():
        due = Message.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now)
        message = due.order_by("next_attempt_at", "pk").select_for_update(skip_locked=True).first()
        if message is None:
            return None
        # The row stays locked while it is sent: another copy of the worker skips it.
        message.attempts += 1
        try:
            transports.send(message)
        except transports.TransportError as error:
            message.last_error = str(error)[:2000]
            if message.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
                message.state = DeliveryState.FAILED
                message.next_attempt_at = None
                log.warning("message %s given up after %d attempts: %s",
                            message.pk, message.attempts, error)  # fmt: skip
            else:
                message.next_attempt_at = now + backoff(message.attempts)
                log.info("message %s failed (%s); retry at %s",
                         message.pk, error, message.next_attempt_at)  # fmt: skip
        else:
            message.state = DeliveryState.SENT
            message.sent_at = clock.now()
            message.next_attempt_at = None
            message.last_error = ""
        message.save()
        return message.pk, message.state


def retry(message: Message) -> None:
    """Send a failed message again (the admin's action): a fresh round of attempts."""
    message.state = DeliveryState.PENDING
    message.attempts = 0
    message.next_attempt_at = clock.now()
    message.save(update_fields=["state", "attempts", "next_attempt_at"])
