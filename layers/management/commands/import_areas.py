"""manage.py import_areas <file>: the city's official hierarchy (layers.importing.areas)."""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from layers.datum import DEFAULT_DATUM, Datum, UnknownDatum, parse_datum
from layers.grid_check import DEFAULT_TOLERANCE_M2
from layers.importing.areas import DEFAULT_NESTING_TOLERANCE_M2, FIELDS, import_areas
from layers.importing.sources import SourceError
from layers.management.commands.import_layer import parse_mapping
from layers.models import Tier
from layers.signals import announce_bulk_write


class Command(BaseCommand):
    help = (
        "Import areas of the official hierarchy (city, districts, streets, communities, "
        "grid cells) from GeoPackage, Shapefile, GeoJSON or CSV with a WKT column. A new "
        "code creates an area; a known code with a changed boundary or parent is a dated "
        "redraw (the old area is kept for the cases filed in it). Rejected rows go to a "
        "report with their reasons; overlaps, gaps and areas outside their parent undo "
        "the import."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--level",
            help=f"the tier of every row ({', '.join(Tier.values)}, or 市/区/街道/镇/社区/"
            "村/网格); without it, a level column gives each row's tier",
        )
        parser.add_argument(
            "--map",
            default="",
            help=f"column mapping, field=file_column[,…] for {', '.join(FIELDS)}; "
            "e.g. code=adcode,name=NAME,parent_code=PAC. Without parent_code the parent "
            "is the area that contains the row",
        )
        parser.add_argument(
            "--datum",
            default=DEFAULT_DATUM.value,
            help=f"datum of the coordinates: {', '.join(d.value for d in Datum)} "
            f"(default {DEFAULT_DATUM.value})",
        )
        parser.add_argument(
            "--effective",
            type=dt.date.fromisoformat,
            help="date the areas (or their redraw) take effect, YYYY-MM-DD (default: today)",
        )
        parser.add_argument("--dry-run", action="store_true", help="check and count only")
        parser.add_argument(
            "--report", type=Path, help="where to write rejected rows (default FILE.rejected.csv)"
        )
        parser.add_argument("--wkt-field", help="CSV: the WKT column (default: wkt/geom/…)")
        parser.add_argument(
            "--tolerance",
            type=float,
            default=DEFAULT_TOLERANCE_M2,
            help="overlaps and gaps up to this many m² are ignored, and a boundary that "
            f"moved by no more is unchanged (default {DEFAULT_TOLERANCE_M2:g})",
        )
        parser.add_argument(
            "--nesting-tolerance",
            type=float,
            default=DEFAULT_NESTING_TOLERANCE_M2,
            help="a row may lie this many m² outside its parent "
            f"(default {DEFAULT_NESTING_TOLERANCE_M2:g})",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["tolerance"] < 0 or options["nesting_tolerance"] < 0:
            raise CommandError("tolerances are zero or more square metres")
        try:
            result = import_areas(
                options["file"],
                level=options["level"],
                mapping=parse_mapping(options["map"]),
                datum=parse_datum(options["datum"]),
                effective=options["effective"],
                dry_run=options["dry_run"],
                report_path=options["report"],
                tolerance_m2=options["tolerance"],
                nesting_tolerance_m2=options["nesting_tolerance"],
                wkt_field=options["wkt_field"],
                progress=not options["no_progress"],
            )
        except (SourceError, UnknownDatum) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(result.summary())
        if not options["dry_run"]:
            announce_bulk_write(self)
