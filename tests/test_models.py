"""Rules that live on the base-layer models themselves."""

import pytest
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError

from layers.models import Area, Person
from layers.validators import id_number_check_digit


def test_it_checks_id_numbers_in_forms_and_full_clean(small_city: dict[str, Area]) -> None:
    first17 = "44010619900101123"
    wrong = "0" if id_number_check_digit(first17) != "0" else "1"
    person = Person(name="张三", id_number=first17 + wrong, geom=Point(113.305, 23.105, srid=4326))
    with pytest.raises(ValidationError) as caught:
        person.full_clean(exclude=["cell", "community", "street", "district"])
    assert "check digit" in str(caught.value.message_dict["id_number"])


def test_it_places_a_record_again_when_it_moves(small_city: dict[str, Area]) -> None:
    person = Person.objects.create(
        name="张三", id_number="440106199001011234", geom=Point(113.305, 23.105, srid=4326)
    )
    assert person.cell.code == "440106001001001"  # type: ignore[union-attr]
    person.geom = Point(113.345, 23.135, srid=4326)
    person.save()
    person.refresh_from_db()
    assert (person.cell.code, person.district.code) == ("440104002001003", "440104")  # type: ignore[union-attr]
