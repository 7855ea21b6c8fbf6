"""manage.py import_layer <layer> <file>: bulk import (入格) of one base layer."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from layers.datum import DEFAULT_DATUM, Datum, UnknownDatum, parse_datum
from layers.importing.core import DEFAULT_BATCH_SIZE, import_file
from layers.importing.sources import SourceError
from layers.importing.specs import LAYERS
from layers.signals import announce_bulk_write


def parse_mapping(text: str) -> dict[str, str]:
    """'id_number=SFZH,name=XM' → {'id_number': 'SFZH', 'name': 'XM'}."""
    mapping: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        target, sep, source = pair.partition("=")
        if not sep or not target.strip() or not source.strip():
            raise CommandError(f"--map expects column=file_column pairs, got {pair!r}")
        mapping[target.strip()] = source.strip()
    return mapping


def _provenance(options: dict[str, Any]) -> dict[str, Any]:
    """Where the batch comes from, for its provenance (layers.importing.core.rows_written)."""
    from django.contrib.auth import get_user_model

    from layers.models import Unit

    source: dict[str, Any] = {"system": options["source_system"]}
    if options["source_unit"]:
        unit = Unit.objects.filter(name=options["source_unit"]).first()
        if unit is None:
            raise CommandError(f"--source-unit: no unit named {options['source_unit']!r}")
        source["unit_id"] = unit.pk
    if options["source_user"]:
        user = get_user_model()._default_manager.filter(username=options["source_user"]).first()
        if user is None:
            raise CommandError(f"--source-user: no user {options['source_user']!r}")
        source["user_id"] = user.pk
    return source


class Command(BaseCommand):
    help = (
        "Import a base layer from GeoJSON, GeoPackage, Shapefile or CSV (lon/lat columns): "
        "validate every row, place it into its grid cell and upsert it on its natural key. "
        "Rejected rows are written with their reasons to a report file."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("layer", choices=sorted(LAYERS))
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--datum",
            default=DEFAULT_DATUM.value,
            help=f"datum of the coordinates: {', '.join(d.value for d in Datum)} "
            f"(default {DEFAULT_DATUM.value})",
        )
        parser.add_argument(
            "--map",
            default="",
            help="column mapping, layer_column=file_column[,…], e.g. id_number=SFZH,name=XM",
        )
        parser.add_argument("--dry-run", action="store_true", help="validate and count only")
        parser.add_argument(
            "--report", type=Path, help="where to write rejected rows (default FILE.rejected.csv)"
        )
        parser.add_argument("--lon-field", help="CSV: longitude column (default: lon/lng/x…)")
        parser.add_argument("--lat-field", help="CSV: latitude column (default: lat/y…)")
        parser.add_argument(
            "--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="rows per batch"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--source-unit", help="name of the unit (department) the data comes from"
        )
        parser.add_argument("--source-user", help="username of who imports it")
        parser.add_argument(
            "--source-system", default="import_layer", help="system the data comes from"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            datum = parse_datum(options["datum"])
            result = import_file(
                options["layer"],
                options["file"],
                datum=datum,
                mapping=parse_mapping(options["map"]),
                dry_run=options["dry_run"],
                report_path=options["report"],
                batch_size=options["batch_size"],
                lon_field=options["lon_field"],
                lat_field=options["lat_field"],
                progress=not options["no_progress"],
                provenance=_provenance(options),
            )
        except (SourceError, UnknownDatum) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(result.summary())
        if not options["dry_run"]:
            announce_bulk_write(self)
