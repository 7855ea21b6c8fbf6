import pytest

from layers.models import Area
from tests.cities import build_small_city


@pytest.fixture
def small_city(db: None) -> dict[str, Area]:
    """The rectangular test city of tests/cities.py, by area code."""
    return build_small_city()
