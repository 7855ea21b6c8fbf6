"""Tell people what awaits them and deliver the messages (docs/notifications.md).

    manage.py run_notify_worker [--once] [--interval 5]

Each pass turns the new case events into inbox items and messages (notifications.collect),
then sends the due messages by e-mail or SMS with retries and back-off
(notifications.delivery). Safe to run as several copies. It outlives its faults like the
SLA worker (dispatch/management/commands/run_sla_worker.py): a lost database connection
is closed and the pass retried after a pause that grows while the database stays away; a
Redis outage only delays the live inbox notices (the inbox is read from the database).
After each pass it writes its heartbeat (dispatch.models.WorkerHeartbeat)."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections, connection
from django.utils import timezone

from dispatch.models import WorkerHeartbeat
from dispatch.sla import DATABASE_LOST
from notifications.collect import collect
from notifications.delivery import deliver_due

log = logging.getLogger("notifications")

WORKER = "notify"
MAX_BACKOFF = 30.0


class Command(BaseCommand):
    help = "Turn case events into inbox items and messages, and deliver the messages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument(
            "--interval", type=float, default=5.0, help="Seconds between passes (default 5)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = threading.Event()

        def stop(signum: int, frame: FrameType | None) -> None:
            stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if options["once"]:
            try:
                self.one_pass()
            except DATABASE_LOST as error:
                raise CommandError(f"database unavailable: {error}") from error
            return
        failures = 0
        while not stopping.is_set():
            try:
                self.one_pass()
            except Exception as error:
                failures += 1
                pause = min(MAX_BACKOFF, 2.0 ** (failures - 1))
                with contextlib.suppress(Exception):
                    connection.close()
                if isinstance(error, DATABASE_LOST):
                    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
                    log.warning("%s worker: database unavailable (%s); retry in %g s",
                                self.worker, first, pause)  # fmt: skip
                else:
                    log.exception("%s worker: pass failed; retry in %g s", self.worker, pause)
                stopping.wait(pause)
                continue
            if failures:
                log.warning("%s worker: back after %d failed attempts", self.worker, failures)
                failures = 0
            stopping.wait(options["interval"])

    def one_pass(self) -> None:
        if not connection.in_atomic_block:
            close_old_connections()
        self.work()
        WorkerHeartbeat.beat(self.worker, at=timezone.now())

    worker = WORKER  # its name in the heartbeat table

    def work(self) -> None:
        """One pass's work (exchange's run_delivery_worker adds the webhooks)."""
        handled = collect()
        if handled:
            self.stdout.write(f"events: {handled}")
        for message_id, state in deliver_due():
            self.stdout.write(f"message {message_id}: {state}")
