"""manage.py data_quality [--area CODE] [--days N]: the data-quality report of an area
(stewardship.quality), one line per child area, then the totals per layer."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from layers.models import Area, Tier
from stewardship import quality


class Command(BaseCommand):
    help = (
        "Data-quality report of an area (default: the city): unplaced and outside records, "
        "duplicates, records not verified for N days, cells without an inspector, "
        "components without a maintaining unit."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--area", help="area code (default: the city)")
        parser.add_argument("--days", type=int, default=quality.DEFAULT_DAYS)

    def handle(self, *args: Any, **options: Any) -> None:
        areas = Area.objects.current().defer("geom")
        if options["area"]:
            area = areas.filter(code=options["area"]).first()
        else:
            area = areas.filter(tier=Tier.CITY).first()
        if area is None:
            raise CommandError(f"no area in force with code {options['area']!r}")
        if options["days"] < 1:
            raise CommandError("--days must be at least 1")
        result = quality.report(area, days=options["days"])
        header = ["area", *quality.MEASURES, "cells_without_inspector",
                  "components_without_maintainer"]  # fmt: skip
        self.stdout.write("\t".join(header))
        for row in [*result.rows, result.totals]:
            name = "total" if row is result.totals or row.area is None else row.area.code
            sums = row.sums
            cells = [str(sums[m]) for m in quality.MEASURES]
            extra = [str(row.cells_without_inspector), str(row.components_without_maintainer)]
            self.stdout.write("\t".join([name, *cells, *extra]))
        for layer, counts in result.totals.layers.items():
            self.stdout.write(
                f"{layer}: " + ", ".join(f"{m} {counts[m]}" for m in quality.MEASURES)
            )
