"""Chase deadlines: warn, mark overdue and escalate (催办 → 督办).

    manage.py run_sla_worker [--once] [--interval 10]

Safe to run as several copies at once: each due case is claimed by one of them.

It outlives its faults (healthchecks' sendalerts): a lost database connection is closed
and the pass retried after a pause that grows while the database stays away (up to
MAX_BACKOFF seconds); any other error of a pass is logged and retried the same way; a
case whose step fails is set aside by dispatch.sla and the others carry on. Live events
go out after commit from a background thread that logs and drops what Redis cannot
take (incidents.outbox): a Redis outage never stops a pass, and clients catch up from
the outbox. After each pass it writes its heartbeat (dispatch.models.WorkerHeartbeat),
which /health/ reads. `make run` restarts it if it exits all the same (scripts/run.sh).
"""

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
from dispatch.sla import DATABASE_LOST, run_due

log = logging.getLogger("dispatch.sla")

WORKER = "sla"  # its name in the heartbeat table
MAX_BACKOFF = 30.0  # seconds between attempts while the database stays away


class Command(BaseCommand):
    help = "Warn about, mark overdue and escalate cases whose deadline timers are due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument(
            "--interval", type=float, default=10.0, help="Seconds between passes (default 10)."
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
                _forget_connection()
                if isinstance(error, DATABASE_LOST):
                    log.warning("SLA worker: database unavailable (%s); retry in %g s",
                                _first_line(error), pause)  # fmt: skip
                else:
                    log.exception("SLA worker: pass failed; retry in %g s", pause)
                stopping.wait(pause)
                continue
            if failures:
                log.warning("SLA worker: back after %d failed attempts", failures)
                failures = 0
            stopping.wait(options["interval"])

    def one_pass(self) -> None:
        # A connection the database dropped since the last pass is closed here, and the
        # pass opens a new one (not inside a caller's transaction: `--once` from a test).
        if not connection.in_atomic_block:
            close_old_connections()
        for case_id, what in run_due():
            self.stdout.write(f"case {case_id}: {what}")
        WorkerHeartbeat.beat(WORKER, at=timezone.now())


def _forget_connection() -> None:
    """Drop the worker's connection after an error: a broken one must not be reused."""
    # Closing a connection whose server is gone may fail too; Django forgets it anyway.
    with contextlib.suppress(Exception):
        connection.close()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
