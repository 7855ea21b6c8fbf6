"""geocode() searches only `among`, whatever form the scope takes: the address's own
columns (a street's, a district's), a subquery (an inspector's cells), a join (falls
back to a subquery), nothing, or everything."""

from __future__ import annotations

from django.contrib.auth.models import User

from incidents.geocoding import geocode
from layers.access import visible_records
from layers.models import Address, Area
from tests.cast import CELLS, centre

REGISTER = [
    ("广州市天河区同和路8号", "own"),
    ("广州市天河区同和路8号之1", "street"),
    ("广州市越秀区同和路8号", "other_district"),
]


def _texts(among: object) -> set[str]:
    return {c.text for c in geocode("同和路8号", limit=10, among=among)}  # type: ignore[arg-type]


def test_geocode_honours_every_form_of_scope(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    for n, (text, key) in enumerate(REGISTER):
        Address.objects.create(code=f"S{n}", text=text, geom=centre(small_city[CELLS[key]]))
    everything = {text for text, _ in REGISTER}
    assert _texts(Address.objects.all()) == everything
    assert _texts(None) == everything
    assert _texts(Address.objects.none()) == set()
    # A join (district__code: kept in a subquery), a subquery (an inspector's own cells)
    # and the address's own column (a street officer's street).
    assert _texts(Address.objects.filter(district__code="440104")) == {"广州市越秀区同和路8号"}
    assert _texts(visible_records(cast["inspector"], Address.objects.all())) == {
        "广州市天河区同和路8号"
    }
    assert _texts(visible_records(cast["street"], Address.objects.all())) == {
        "广州市天河区同和路8号",
        "广州市天河区同和路8号之1",
    }
    # Conditions on two columns, one of them negated.
    tianhe = Address.objects.filter(district__code="440106").exclude(code="S1")
    assert _texts(tianhe) == {"广州市天河区同和路8号"}
