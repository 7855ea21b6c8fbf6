"""The loop of the background workers: the SLA worker and the delivery worker.

A worker's command subclasses WorkerCommand and says what one pass does (`work`). The
loop outlives its faults (healthchecks' sendalerts): a lost database connection is closed
and the pass retried after a pause that doubles while the database stays away (up to
MAX_BACKOFF seconds); any other error of a pass is logged and retried the same way.
After each pass the worker writes its heartbeat (dispatch.models.WorkerHeartbeat), which
/health/ reads. `make run` restarts a worker that exits all the same (scripts/run.sh).
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
from dispatch.sla import DATABASE_LOST

MAX_BACKOFF = 30.0  # seconds between attempts while the database stays away


class WorkerCommand(BaseCommand):
    worker = ""  # its name in the heartbeat table
    label = ""  # its name in the log: "<label> worker: …"
    interval = 10.0  # seconds between passes, unless --interval says otherwise
    log = logging.getLogger(__name__)

    def work(self) -> None:
        raise NotImplementedError

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument(
            "--interval",
            type=float,
            default=self.interval,
            help=f"Seconds between passes (default {self.interval:g}).",
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
                # A broken connection must not be reused; closing one whose server is
                # gone may fail too, and Django forgets it anyway.
                with contextlib.suppress(Exception):
                    connection.close()
                if isinstance(error, DATABASE_LOST):
                    self.log.warning("%s worker: database unavailable (%s); retry in %g s",
                                     self.label, _first_line(error), pause)  # fmt: skip
                else:
                    self.log.exception("%s worker: pass failed; retry in %g s", self.label, pause)
                stopping.wait(pause)
                continue
            if failures:
                self.log.warning("%s worker: back after %d failed attempts", self.label, failures)
                failures = 0
            stopping.wait(options["interval"])

    def one_pass(self) -> None:
        # A connection the database dropped since the last pass is closed here, and the
        # pass opens a new one (not inside a caller's transaction: `--once` from a test).
        if not connection.in_atomic_block:
            close_old_connections()
        self.work()
        WorkerHeartbeat.beat(self.worker, at=timezone.now())


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
