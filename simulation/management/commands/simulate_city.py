"""Give a city a history through the real services (docs/simulation.md).

    manage.py simulate_city --days 30 --seed 1 [--scale 0.01] [--start 2026-11-01]

Incidents arrive as inspectors' reports and 12345 tickets, about 2,000 a day at scale
1.0 with the day's and the week's rhythm, in hot spots and everywhere, and each goes
through the case loop on the one clock, step by step, with the SLA worker's passes in
between. Deterministic per seed; resumable (an interrupted run goes on where it
stopped); running the same days again adds nothing. Without --start a new run ends at
the present hour.
"""

from __future__ import annotations

import datetime as dt
import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from simulation.engine import simulate_city


class Command(BaseCommand):
    help = "Simulate N days of the city's case loop through the real services."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--days", type=int, required=True, help="days to simulate")
        parser.add_argument("--seed", type=int, required=True, help="the run's random seed")
        parser.add_argument(
            "--scale", type=float, default=0.01, help="1.0: about 2,000 incidents a day"
        )
        parser.add_argument(
            "--start",
            type=dt.date.fromisoformat,
            help="the first day (YYYY-MM-DD); default: DAYS days before this hour",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["days"] < 0 or options["scale"] <= 0:
            raise CommandError("--days must not be negative and --scale must be positive")
        began = time.perf_counter()
        try:
            summary = simulate_city(
                days=options["days"],
                seed=options["seed"],
                scale=options["scale"],
                start=options["start"],
                progress=not options["no_progress"] and options["verbosity"] > 0,
                out=self.stdout.write,
            )
        except (ValueError, LookupError) as error:
            raise CommandError(str(error)) from error
        steps = ", ".join(f"{k} {v}" for k, v in sorted(summary.steps.items()))
        sla = ", ".join(f"{k} {v}" for k, v in sorted(summary.sla.items())) or "-"
        until = f"{summary.until:%Y-%m-%d %H:%M}" if summary.until else "-"
        self.stdout.write(
            f"simulated {summary.hours} h (history up to {until}) in "
            f"{time.perf_counter() - began:.1f} s: {summary.arrived} incidents; "
            f"steps: {steps or '-'}; SLA worker: {sla}; refused {summary.refused}"
        )
