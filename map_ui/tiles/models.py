"""What the vector tiles keep beside the data: a change counter per source table, and
per-cell counts with label points for the aggregated (low-zoom) tiles.

The models live in map_ui/tiles/ with the rest of the tiles; map_ui/models.py only
imports them so that Django registers them under the map_ui app.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models


class TileVersion(models.Model):
    """One row per tile source (`areas`, `components`, `entities`, `population`).

    `version` is bumped by a statement-level trigger on the source table (migration
    0001), so every write counts: imports (COPY fires INSERT triggers), admin and API
    saves, redraws, raw SQL. `counted` is the version the TileCount column of the layer
    was computed at (for `areas`: the version TileLabel was built from)."""

    name = models.CharField(max_length=20, primary_key=True)
    version = models.BigIntegerField(default=1)
    counted = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} v{self.version} (counted v{self.counted})"


class TileLabel(models.Model):
    """Where the aggregate of a current cell or community is drawn, and its size."""

    area = models.OneToOneField(
        "layers.Area", models.DO_NOTHING, primary_key=True, db_constraint=False, related_name="+"
    )
    tier = models.CharField(max_length=10)
    code = models.CharField(max_length=15)
    point = models.PointField(srid=settings.GRID_SRID)
    km2 = models.FloatField()


class TileCount(models.Model):
    """Records per current cell, per base layer. The placement columns are named as on
    layers.models.Placed, so that layers.access.record_scope() filters these rows with
    the same Q as the records themselves."""

    cell = models.OneToOneField(
        "layers.Area", models.DO_NOTHING, primary_key=True, db_constraint=False, related_name="+"
    )
    community = models.ForeignKey(
        "layers.Area", models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    street = models.ForeignKey(
        "layers.Area", models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    district = models.ForeignKey(
        "layers.Area", models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    components = models.IntegerField(default=0)
    entities = models.IntegerField(default=0)
    population = models.IntegerField(default=0)


class TileDirty(models.Model):
    """A cell whose TileCount for `layer` is out of date: written by a statement-level
    trigger on the layer's table (migration 0002) from the rows the statement touched,
    taken and cleared by map_ui.tiles.counts.refresh(), which recounts only these cells.
    `cell_id` NULL: every cell (the table was truncated)."""

    layer = models.CharField(max_length=20)
    cell_id = models.BigIntegerField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["layer", "cell_id"], name="tiledirty_layer_cell", nulls_distinct=False
            )
        ]
