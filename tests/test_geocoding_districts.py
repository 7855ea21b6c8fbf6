"""The geocoder keeps the district names for a while, and reads them again at once when
an area is saved in this process."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import geocoding
from layers.models import Area


def test_district_words_are_read_once_and_again_after_a_rename(
    small_city: dict[str, Area],
) -> None:
    geocoding.forget_district_words()
    first = geocoding.district_words()
    assert "天河区" in first
    with CaptureQueriesContext(connection) as queries:
        assert geocoding.district_words() is first
    assert queries.captured_queries == []

    tianhe = small_city["440106"]
    tianhe.name = "天和区"
    tianhe.save(update_fields=["name"])
    again = geocoding.district_words()
    assert "天和区" in again and "天河区" not in again
    # A query that names the district by its new name counts it as a district.
    query = geocoding.parse_query("天和区华景路123号", again)
    assert query.districts == frozenset({"天和区"}) and query.core == "华景路 123"
