"""Outbound webhooks (docs/exchange.md): the case events of a unit's cases, posted as JSON
to its system, signed with HMAC-SHA256, retried with back-off, every attempt logged, and
any delivery replayable.

Which events: those whose outbox row reaches the webhook's unit (its unit group,
incidents.outbox.groups: the cases the unit has, supervises or had), read after a cursor
in sequence order like the inbox (notifications.collect).

Signature: header `X-Gridmgmt-Signature: t=<unix seconds>,v1=<hex>`, where hex is
HMAC-SHA256(secret, "<t>.<body>"); a receiver recomputes it and refuses old timestamps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.db import transaction

from exchange.models import DeliveryState, Webhook, WebhookAttempt, WebhookDelivery
from gridmgmt import clock
from incidents.models import Outbox
from incidents.outbox import groups, last_seq, unit_group
from notifications.models import OutboxCursor, backoff

log = logging.getLogger(__name__)

CURSOR = "webhooks"
SIGNATURE_HEADER = "X-Gridmgmt-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for `body` sent at `timestamp`."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300) -> bool:
    """What a receiver does (and the tests): check the signature and its age."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def collect(*, limit: int = 500) -> int:
    """Queue a delivery per new event and webhook it reaches; the events read."""
    with transaction.atomic():
        OutboxCursor.objects.get_or_create(name=CURSOR)  # the migration starts it
        cursor = OutboxCursor.objects.select_for_update(skip_locked=True).filter(name=CURSOR)
        position = cursor.first()
        if position is None:
            return 0
        upto = last_seq()
        hooks = list(Webhook.objects.filter(active=True))
        events = Outbox.objects.filter(seq__gt=position.last_seq, seq__lte=upto).order_by("seq")
        handled = 0
        for event in events[:limit]:
            for hook in hooks:
                if _reaches(hook, event):
                    _queue(hook, event)
            position.last_seq = event.seq
            handled += 1
        if handled < limit:
            position.last_seq = upto
        position.save(update_fields=["last_seq"])
    return handled


def _reaches(hook: Webhook, event: Outbox) -> bool:
    if hook.kinds and event.kind not in hook.kinds:
        return False
    return unit_group(hook.unit_id) in groups(event)


def _queue(hook: Webhook, event: Outbox) -> WebhookDelivery:
    body = {"event": event.kind, "seq": event.seq, "at": event.at.isoformat(),
            "case": event.payload.get("case")}  # fmt: skip
    now = clock.now()
    return WebhookDelivery.objects.create(
        webhook=hook, seq=event.seq, kind=event.kind, created_at=now, next_attempt_at=now,
        body=json.dumps(body, ensure_ascii=False, sort_keys=True),
    )  # fmt: skip


def deliver_due(*, now: dt.datetime | None = None, limit: int = 100) -> list[tuple[int, str]]:
    """Post up to `limit` due deliveries; (delivery id, new state) for each attempt."""
    done = []
    for _ in range(limit):
        outcome = _deliver_one(now or clock.now())
        if outcome is None:
            break
        done.append(outcome)
    return done


def _deliver_one(now: dt.datetime) -> tuple[int, str] | None:
    with transaction.atomic():
        due = WebhookDelivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now)
        locked = due.order_by("next_attempt_at", "pk").select_for_update(skip_locked=True)
        delivery = locked.select_related("webhook").first()
        if delivery is None:
            return None
        delivery.attempts += 1
        status, error, took = _post(delivery)
        WebhookAttempt.objects.create(
            delivery=delivery, at=now, status=status, error=error, duration_ms=took
        )
        if status is not None and 200 <= status < 300:
            delivery.state = DeliveryState.SENT
            delivery.delivered_at = clock.now()
            delivery.next_attempt_at = None
        elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.state = DeliveryState.FAILED
            delivery.next_attempt_at = None
            log.warning("webhook delivery %s given up after %d attempts", delivery.pk,
                        delivery.attempts)  # fmt: skip
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts)
        delivery.save()
        return delivery.pk, delivery.state


def _post(delivery: WebhookDelivery) -> tuple[int | None, str, int]:
    body = delivery.body.encode()
    hook = delivery.webhook
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "gridmgmt-webhook/1",
        "X-Gridmgmt-Event": delivery.kind,
        "X-Gridmgmt-Delivery": str(delivery.pk),
        SIGNATURE_HEADER: signature(hook.secret, int(time.time()), body),
    }
    started = time.monotonic()
    status: int | None = None
    error = ""
    if urllib.parse.urlsplit(hook.url).scheme not in ("http", "https"):
        return None, "only http(s) URLs are posted to", 0
    request = urllib.request.Request(hook.url, data=body, headers=headers, method="POST")  # noqa: S310 (checked above)
    try:
        with urllib.request.urlopen(request, timeout=settings.WEBHOOK_TIMEOUT) as answer:  # noqa: S310
            status = int(answer.status)
    except urllib.error.HTTPError as refused:
        status, error = refused.code, str(refused.reason)[:500]
    except (urllib.error.URLError, OSError, ValueError) as failed:
        error = f"{type(failed).__name__}: {failed}"[:2000]
    took = int((time.monotonic() - started) * 1000)
    return status, error, took


def replay(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery's body again, as a new delivery (its own attempts and log)."""
    now = clock.now()
    return WebhookDelivery.objects.create(
        webhook=delivery.webhook, seq=delivery.seq, kind=delivery.kind, body=delivery.body,
        created_at=now, next_attempt_at=now, replay_of=delivery,
    )  # fmt: skip
