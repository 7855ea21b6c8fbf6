"""Pluggable transports: how a message leaves. E-mail goes through Django's mail backends
(EMAIL_BACKEND, EMAIL_HOST...); SMS through the class named by NOTIFY_SMS_TRANSPORT, which
any gateway's client can implement (send(to, text), raising TransportError on failure).
The file transport of the demo and the tests writes one JSON line per SMS."""

from __future__ import annotations

import json
import logging
import smtplib
from functools import cache
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.module_loading import import_string

from gridmgmt import clock
from notifications.models import Message, Transport

log = logging.getLogger(__name__)


class TransportError(Exception):
    """The message did not leave; it is tried again later."""


class SmsTransport(Protocol):
    def send(self, to: str, text: str) -> None: ...


class FileSms:
    """Appends each SMS as a JSON line to NOTIFY_SMS_FILE (demo, tests)."""

    def send(self, to: str, text: str) -> None:
        path = Path(settings.NOTIFY_SMS_FILE)
        line = json.dumps({"at": clock.now().isoformat(), "to": to, "text": text},
                          ensure_ascii=False)  # fmt: skip
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as out:
                out.write(line + "\n")
        except OSError as error:
            raise TransportError(str(error)) from error


class LogSms:
    """Writes each SMS to the log (a machine with no gateway)."""

    def send(self, to: str, text: str) -> None:
        log.info("SMS to %s: %s", to, text)


@cache
def sms_transport() -> SmsTransport:
    transport: SmsTransport = import_string(settings.NOTIFY_SMS_TRANSPORT)()
    return transport


def send(message: Message) -> None:
    """Send `message` by its transport; TransportError when it did not leave."""
    if message.transport == Transport.EMAIL:
        email = EmailMessage(message.subject, message.body, to=[message.to])
        try:
            email.send(fail_silently=False)
        except (smtplib.SMTPException, OSError) as error:
            raise TransportError(f"{type(error).__name__}: {error}") from error
    elif message.transport == Transport.SMS:
        sms_transport().send(message.to, f"{message.subject} {message.body}")
    else:
        raise TransportError(f"unknown transport {message.transport!r}")
