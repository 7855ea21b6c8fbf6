"""The loop of the background workers: the SLA worker and the delivery worker.

A worker's command subclasses WorkerCommand and says what one pass does (`work`). The
loop outlives its faults (healthchecks' sendalerts): a lost database connection is closed
and the pass retried after a pause that doubles while the database stays away (up to
MAX_BACKOFF seconds); any other error of a pass is logged and retried the same way.
After each pass the worker writes its heartbeat (dispatch.models.WorkerHeartbeat), which
/health/ reads. `make run` restarts a worker that exits all the same (scripts/run.sh).

Every worker reads the time from the one clock (gridmgmt.clock): `--clock-start ISO` runs
it from a past (or future) moment and `--clock-rate R` at R times real time, so that the
real workers can replay or hurry a city's day (`simulate_city`, tests, demonstrations):

    manage.py run_sla_worker --clock-start 2026-11-23T09:00+08:00 --clock-rate 60
"""

from __future__ import annotations

import contextlib
import datetime as dt
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
from gridmgmt import clock

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
        parser.add_argument(
            "--clock-start",
            type=_moment,
            help="Run the clock from this moment (ISO 8601; without an offset, local time).",
        )
        parser.add_argument(
            "--clock-rate",
            type=float,
            default=1.0,
            help="The clock's speed from --clock-start, times real time (default 1).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        start: dt.datetime | str | None = options["clock_start"]
        if isinstance(start, str):  # call_command() passes its keywords unparsed
            start = _moment(start)
        if options["clock_rate"] < 0:
            raise CommandError("--clock-rate must not be negative")
        if start is None:
            if options["clock_rate"] != 1.0:
                raise CommandError("--clock-rate needs --clock-start")
            self.loop(**options)
            return
        self.log.info("%s worker: clock from %s at %g x real time",
                      self.label, start.isoformat(), options["clock_rate"])  # fmt: skip
        # travel(): the clock reads what it read before once the worker stops (a test
        # that ran the command in its own process).
        with clock.travel(start, rate=options["clock_rate"]):
            self.loop(**options)

    def loop(self, **options: Any) -> None:
        stopping = threading.Event()

        def stop(signum: int, frame: FrameType | None) -> None:
            stopping.set()

        before = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.passes(stopping, **options)
        finally:  # a worker run inside a longer process (a test) leaves its handlers
            for signum, handler in before.items():
                signal.signal(signum, handler)

    def passes(self, stopping: threading.Event, **options: Any) -> None:
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
        WorkerHeartbeat.beat(self.worker, at=clock.now())


def _moment(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 moment: {text!r}") from None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
