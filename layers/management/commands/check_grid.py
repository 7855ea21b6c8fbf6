"""manage.py check_grid: integrity of the current grid (layers.grid_check), as a report."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from itertools import groupby
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from layers.grid_check import DEFAULT_TOLERANCE_M2, PROBLEM_TITLES, Problem, check_grid
from layers.models import Area, Tier


class Command(BaseCommand):
    help = (
        "Check the current grid: invalid geometries, overlaps between siblings, gaps in a "
        "parent, areas outside their parent, orphan codes and orphan base-layer placements. "
        "Exits with status 1 when a problem is found, 2 when there are no areas to check."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--tier",
            action="append",
            choices=Tier.values,
            help="check only areas of this tier (repeatable; default: all tiers)",
        )
        parser.add_argument(
            "--tolerance",
            type=float,
            default=DEFAULT_TOLERANCE_M2,
            help=f"overlaps, gaps and overhangs up to this many m² are ignored "
            f"(default {DEFAULT_TOLERANCE_M2:g})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        tolerance: float = options["tolerance"]
        if tolerance < 0:
            raise CommandError("--tolerance must be zero or more square metres")
        areas = Area.objects.current().count()
        if not areas:
            # An empty grid has no problems only in the sense that it has nothing at all.
            raise CommandError(
                "nothing to check: the database has no current areas (import them with "
                "import_areas)",
                returncode=2,
            )
        start = time.perf_counter()
        findings = check_grid(tiers=options["tier"], tolerance_m2=tolerance)
        elapsed = time.perf_counter() - start
        tiers = ", ".join(options["tier"] or ["all tiers"])
        self.stdout.write(
            f"check_grid: {areas:,} current areas ({tiers}), tolerance {tolerance:g} m², "
            f"{elapsed:.1f} s"
        )
        order = list(Problem)
        findings.sort(key=lambda finding: order.index(finding.problem))
        for problem, group in groupby(findings, key=lambda finding: finding.problem):
            items = list(group)
            self.stdout.write(f"\n{PROBLEM_TITLES[problem]} ({len(items)})")
            for finding in items:
                self.stdout.write(f"  {finding}")
        if findings:
            raise CommandError(f"{len(findings)} problems found", returncode=1)
        self.stdout.write(self.style.SUCCESS("no problems found"))
