"""Redrawing cells retires the old rows and places again the records they held."""

import datetime as dt
import io
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from django.contrib.gis.geos import Point, Polygon
from django.core.management import CommandError, call_command

from layers.grid_check import check_grid
from layers.models import Area, Person, Tier
from layers.redraw import RedrawError, redraw_cells
from tests.cities import ORIGIN_LAT, ORIGIN_LON, STEP

WEST, EAST = "440106001001001", "440106001001002"  # side by side, border at x = 113.31
TODAY = dt.date(2026, 11, 21)


def box(x0: float, x1: float) -> Polygon:
    y0, y1 = ORIGIN_LAT, ORIGIN_LAT + STEP
    return Polygon(((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)), srid=4326)


def test_it_moves_a_border_and_replaces_only_what_changed(small_city: dict[str, Area]) -> None:
    near_border = Person.objects.create(
        name="张三", id_number="440106199001010014", geom=Point(113.3095, 23.105, srid=4326)
    )
    far_away = Person.objects.create(
        name="李四", id_number="440104199001010026", geom=Point(113.345, 23.105, srid=4326)
    )
    assert near_border.cell.code == WEST  # type: ignore[union-attr]
    far_cell = far_away.cell_id
    border = round(ORIGIN_LON + 0.9 * STEP, 6)  # move the shared border 100 m west

    result = redraw_cells(
        {WEST: box(ORIGIN_LON, border), EAST: box(border, ORIGIN_LON + 2 * STEP)}, valid_from=TODAY
    )

    assert result.replaced["person"] == 1
    near_border.refresh_from_db()
    far_away.refresh_from_db()
    new_east = Area.objects.current().get(code=EAST)
    assert near_border.cell_id == new_east.pk  # the new row, not the retired one
    assert far_away.cell_id == far_cell
    retired = Area.objects.get(code=EAST, valid_to=TODAY)
    assert retired.pk != new_east.pk and new_east.valid_from == TODAY
    assert Area.objects.filter(tier=Tier.CELL, valid_to__isnull=True).count() == 32
    assert check_grid(tiers=[Tier.CELL]) == []


def test_it_refuses_unknown_cells_invalid_boundaries_and_future_dates(
    small_city: dict[str, Area],
) -> None:
    with pytest.raises(RedrawError, match="no current grid cell with code 440106999999999"):
        redraw_cells({"440106999999999": box(113.30, 113.31)}, valid_from=TODAY)
    bow_tie = Polygon(
        ((113.30, 23.10), (113.31, 23.11), (113.31, 23.10), (113.30, 23.11), (113.30, 23.10)),
        srid=4326,
    )
    with pytest.raises(RedrawError, match="not valid"):
        redraw_cells({WEST: bow_tie}, valid_from=TODAY)
    with pytest.raises(RedrawError, match="in the future"):
        redraw_cells({WEST: box(113.30, 113.31)}, valid_from=dt.date(2999, 1, 1))
    assert not Area.objects.filter(valid_to__isnull=False).exists()


def test_the_command_redraws_from_a_file_and_refuses_a_gap(
    small_city: dict[str, Area], tmp_path: Path
) -> None:
    Person.objects.create(
        name="张三", id_number="440106199001010014", geom=Point(113.3095, 23.105, srid=4326)
    )
    border = round(ORIGIN_LON + 0.9 * STEP, 6)
    good = tmp_path / "cells.geojson"
    gpd.GeoDataFrame(
        {"code": [WEST, EAST]},
        geometry=[
            shapely.box(ORIGIN_LON, ORIGIN_LAT, border, ORIGIN_LAT + STEP),
            shapely.box(border, ORIGIN_LAT, ORIGIN_LON + 2 * STEP, ORIGIN_LAT + STEP),
        ],
        crs="EPSG:4326",
    ).to_file(good)
    gap = tmp_path / "gap.geojson"
    gpd.GeoDataFrame(
        {"code": [WEST]},
        geometry=[shapely.box(ORIGIN_LON, ORIGIN_LAT, border, ORIGIN_LAT + STEP)],
        crs="EPSG:4326",
    ).to_file(gap)

    problems = io.StringIO()
    with pytest.raises(CommandError, match=r"problems \(above\); nothing was changed"):
        call_command("redraw_cells", str(gap), "--valid-from", "2026-11-21", stderr=problems)
    assert "gap" in problems.getvalue() and "440106001001" in problems.getvalue()
    assert not Area.objects.filter(valid_to__isnull=False).exists()

    out = io.StringIO()
    call_command("redraw_cells", str(good), "--valid-from", "2026-11-21", stdout=out)
    assert "redrew 2 cells; placed again: 1 person" in out.getvalue()
    assert Person.objects.get().cell.code == EAST  # type: ignore[union-attr]
