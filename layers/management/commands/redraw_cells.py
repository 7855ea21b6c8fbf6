"""manage.py redraw_cells <file>: give grid cells new boundaries (网格调整)."""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from gridmgmt import clock
from layers.datum import DEFAULT_DATUM, Datum, UnknownDatum, parse_datum, to_storage
from layers.geoinput import lonlat_reasons
from layers.grid_check import check_grid
from layers.models import Tier
from layers.redraw import RedrawError, redraw_cells
from layers.signals import announce_bulk_write


class Command(BaseCommand):
    help = (
        "Redraw grid cells from a GIS file (GeoJSON, GeoPackage, Shapefile) with a `code` "
        "column and the new (multi)polygons: the old rows are retired, successors take "
        "the new boundaries, and every base record in the changed area is placed again."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--datum", default=DEFAULT_DATUM.value, help="datum of the file")
        parser.add_argument("--valid-from", type=dt.date.fromisoformat, help="default: today")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            datum = parse_datum(options["datum"])
            frame = pyogrio.read_dataframe(options["file"])
        except (UnknownDatum, pyogrio.errors.DataSourceError) as exc:
            raise CommandError(str(exc)) from exc
        if "code" not in frame.columns:
            raise CommandError(f"{options['file']} has no 'code' column naming the cells")
        _check_coordinates(frame, datum)
        boundaries = {
            str(code): GEOSGeometry(memoryview(shapely.to_wkb(_to_storage(geom, datum))), srid=4326)
            for code, geom in zip(frame["code"], frame.geometry, strict=True)
        }
        # The redraw and the check are one transaction: boundaries that would leave a gap
        # or an overlap are not kept.
        try:
            with transaction.atomic():
                result = redraw_cells(
                    boundaries, valid_from=options["valid_from"] or clock.localdate()
                )
                findings = check_grid(tiers=[Tier.CELL])
                for finding in findings:
                    self.stderr.write(f"{finding.problem}: {finding.detail} {finding.codes}")
                if findings:
                    raise RedrawError(
                        f"the new boundaries leave {len(findings)} problems (above); "
                        "nothing was changed"
                    )
        except RedrawError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"redrew {len(result.created)} cells; placed again: "
            + ", ".join(f"{n} {layer}" for layer, n in result.replaced.items())
            + "; moved to the successors: "
            + ", ".join(f"{n} {what}" for what, n in result.followed.items())
        )
        announce_bulk_write(self)


def _check_coordinates(frame: Any, datum: Datum) -> None:
    """The input boundary (layers.geoinput) for every vertex, before anything is converted
    or written: finite, in range, in the datum's valid range."""
    coordinates, owner = shapely.get_coordinates(frame.geometry.values, return_index=True)
    reasons = lonlat_reasons(coordinates[:, 0], coordinates[:, 1], datum)
    wrong = np.flatnonzero(reasons.astype(bool))
    if len(wrong):
        bad = sorted({int(owner[i]) for i in wrong})
        codes = ", ".join(str(frame["code"].iloc[i]) for i in bad[:10])
        raise CommandError(f"cells {codes}: {reasons[wrong[0]]}; nothing was changed")


def _to_storage(geom: shapely.Geometry, datum: Datum) -> shapely.Geometry:
    def convert(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(to_storage(xy[:, 0], xy[:, 1], datum))

    return shapely.transform(geom, convert)
