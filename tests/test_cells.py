"""The bulk placement (CellIndex) gives the same answers as place_point, borders included."""

import numpy as np
import pytest
from django.contrib.gis.geos import Point

from layers.importing.cells import CellIndex
from layers.models import Area
from layers.placement import OutsideCity, place_point
from tests.cities import ORIGIN_LAT, ORIGIN_LON, STEP


def test_it_agrees_with_place_point_on_every_border_corner_and_inside(
    small_city: dict[str, Area],
) -> None:
    # A lattice at half-cell steps: cell centres, every shared edge, every corner, the
    # city's outer border, and points just outside it.
    xs = np.round(ORIGIN_LON + STEP * np.arange(-1, 18) / 2, 6)
    ys = np.round(ORIGIN_LAT + STEP * np.arange(-1, 10) / 2, 6)
    lon, lat = (a.ravel() for a in np.meshgrid(xs, ys))
    located = CellIndex().locate(lon, lat)
    codes = {area.pk: code for code, area in small_city.items()}
    for i, (x, y) in enumerate(zip(lon, lat, strict=True)):
        try:
            expected = place_point(Point(float(x), float(y), srid=4326)).cell.code
        except OutsideCity:
            expected = None
        got = codes[int(located.cell_id[i])] if located.cell_index[i] >= 0 else None
        assert got == expected, (x, y)
    assert located.outside.sum() == 2 * (len(xs) + len(ys)) - 4  # the outer ring of the lattice


def test_it_treats_missing_coordinates_as_outside(small_city: dict[str, Area]) -> None:
    located = CellIndex().locate([np.nan, 113.305], [23.105, np.nan])
    assert located.outside.tolist() == [True, True]


@pytest.mark.parametrize("n", [0, 1])
def test_it_handles_tiny_inputs(small_city: dict[str, Area], n: int) -> None:
    located = CellIndex().locate(np.full(n, 113.305), np.full(n, 23.105))
    assert len(located.cell_index) == n
    assert (located.cell_index >= 0).all()
