"""Chase deadlines: warn, mark overdue and escalate (催办 → 督办).

    manage.py run_sla_worker [--once] [--interval 10]

Safe to run as several copies at once: each due case is claimed by one of them.
"""

from __future__ import annotations

import signal
import time
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dispatch.sla import run_due


class Command(BaseCommand):
    help = "Warn about, mark overdue and escalate cases whose deadline timers are due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument(
            "--interval", type=float, default=10.0, help="Seconds between passes (default 10)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.running = True

        def stop(signum: int, frame: FrameType | None) -> None:
            self.running = False

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while self.running:
            for case_id, what in run_due():
                self.stdout.write(f"case {case_id}: {what}")
            if options["once"]:
                return
            time.sleep(options["interval"])
