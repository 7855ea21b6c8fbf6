import pytest
from django.contrib.gis.geos import Point

from layers.models import Area
from layers.placement import OutsideCity, place_point


def test_it_places_a_point_inside_a_cell(small_city: dict[str, Area]) -> None:
    placement = place_point(Point(113.305, 23.105, srid=4326))
    assert placement.cell.code == "440106001001001"
    assert placement.community.code == "440106001001"
    assert placement.street.code == "440106001"
    assert placement.district.code == "440106"


def test_it_places_a_point_on_a_shared_border_into_the_lower_code(
    small_city: dict[str, Area],
) -> None:
    # x = 113.31 is the border between cells ...001001 (west) and ...001002 (east).
    on_border = Point(113.31, 23.105, srid=4326)
    assert place_point(on_border).cell.code == "440106001001001"
    # The district border (x = 113.34) between 天河 and 越秀: 440104 < 440106.
    on_district_border = Point(113.34, 23.105, srid=4326)
    assert place_point(on_district_border).district.code == "440104"


def test_it_refuses_a_point_outside_the_city(small_city: dict[str, Area]) -> None:
    with pytest.raises(OutsideCity, match="不在本市任何网格内"):
        place_point(Point(114.0, 23.105, srid=4326))
