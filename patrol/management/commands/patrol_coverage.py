"""manage.py patrol_coverage [--day YYYY-MM-DD]: compute each cell's patrol coverage of a
local day from the track (default: yesterday; run nightly, before the track is purged)."""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from gridmgmt import clock
from patrol.partitions import local_day
from patrol.services import coverage_compute


class Command(BaseCommand):
    help = "Compute per-cell patrol coverage (visited, minutes, km) of one day."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--day", help="YYYY-MM-DD, a local day (default: yesterday)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["day"]:
            try:
                day = dt.date.fromisoformat(options["day"])
            except ValueError:
                raise CommandError("--day must be a date, YYYY-MM-DD") from None
        else:
            day = local_day(clock.now()) - dt.timedelta(days=1)
        visited = coverage_compute(day=day)
        self.stdout.write(f"{day:%Y-%m-%d}: {visited} cells visited")
