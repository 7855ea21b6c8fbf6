"""The data-quality report (数据质量): per area and layer, with the command and the page."""

from __future__ import annotations

import datetime
import io

import pytest
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.contrib.gis.geos import Point
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from layers.models import Area, Category, CategoryKind, Component, Person, Staff, Tier, Unit
from stewardship import quality
from stewardship.models import Verification
from tests.cast import CELLS, centre, with_check_digit

STREET = "440106001"
DISTRICT = "440106"


@pytest.fixture
def dirty(cast: dict[str, User], small_city: dict[str, Area]) -> dict[str, object]:
    """Components and people with one of each problem, in the demo street."""
    Category.objects.create(kind=CategoryKind.COMPONENT, major_code="01", name="公用设施")
    category = Category.objects.create(
        kind=CategoryKind.COMPONENT, major_code="01", minor_code="01", name="上水井盖"
    )
    own = small_city[CELLS["own"]]
    maintainer = Unit.objects.order_by("pk").first()
    assert maintainer is not None
    kept = Component.objects.create(
        code="4401060101000001", category=category, geom=centre(own), maintainer=maintainer
    )
    no_maintainer = Component.objects.create(
        code="4401060101000002", category=category, geom=centre(own), maintainer_unit="无此单位"
    )
    # Placed in a cell that does not cover its point (the cell was redrawn since).
    other_cell = small_city[CELLS["street"]]
    Component.objects.filter(pk=no_maintainer.pk).update(cell=other_cell)
    # Not placed at all (an import without placement).
    unplaced = Person.objects.create(
        name="甲", id_number=with_check_digit("44010619900101001"), geom=centre(own)
    )
    Person.objects.filter(pk=unplaced.pk).update(
        cell=None, community=None, street=None, district=None
    )
    old = timezone.now() - datetime.timedelta(days=400)
    stale = Person.objects.create(
        name="乙", id_number=with_check_digit("44010619900101002"), geom=centre(own)
    )
    fresh = Person.objects.create(
        name="丙", id_number=with_check_digit("44010619900101003"), geom=centre(own)
    )
    Person.objects.filter(pk__in=[stale.pk, fresh.pk]).update(updated_at=old)
    Verification.objects.create(layer=ContentType.objects.get_for_model(Person), object_id=fresh.pk)
    return {"kept": kept, "no_maintainer": no_maintainer, "stale": stale}


def test_it_counts_each_problem_per_street(
    dirty: dict[str, object], small_city: dict[str, Area]
) -> None:
    district = small_city[DISTRICT]
    result = quality.report(district, days=365)
    row = next(r for r in result.rows if r.area is not None and r.area.code == STREET)
    assert row.layers["components"] == {
        "unplaced": 0, "outside": 1, "duplicates": 0, "unverified": 0,
    }  # fmt: skip
    # The unplaced person has no street: counted in the district's totals only.
    assert row.layers["population"]["unverified"] == 1
    assert result.totals.layers["population"]["unplaced"] == 0  # no district either
    assert row.components_without_maintainer == 1
    cells = Area.objects.current().filter(tier=Tier.CELL, code__startswith=STREET).count()
    staffed = Staff.cells.through.objects.filter(area__code__startswith=STREET).values("area_id")
    assert row.cells_without_inspector == cells - staffed.distinct().count()
    city = quality.report(small_city["440100"], days=365)
    assert city.totals.layers["population"]["unplaced"] == 1
    assert quality.report(district, days=1000).totals.layers["population"]["unverified"] == 0


def test_the_command_prints_a_line_per_area_and_the_totals(
    dirty: dict[str, object], small_city: dict[str, Area]
) -> None:
    out = io.StringIO()
    call_command("data_quality", "--area", DISTRICT, "--days", "365", stdout=out)
    lines = out.getvalue().splitlines()
    street = next(line for line in lines if line.startswith(STREET + "\t"))
    assert street.split("\t")[1:5] == ["0", "1", "0", "1"]
    assert any(line.startswith("components: unplaced 0, outside 1") for line in lines)


def test_the_page_and_the_api_are_for_data_administrators(
    dirty: dict[str, object], cast: dict[str, User]
) -> None:
    admin = Client()
    admin.force_login(cast["data_admin"])
    page = admin.get(f"/map/data/quality/?area={DISTRICT}&days=365")
    assert page.status_code == 200
    assert f'data-area="{STREET}"'.encode() in page.content
    body = admin.get(f"/api/stewardship/quality/?area={DISTRICT}&days=365").json()
    street = next(r for r in body["rows"] if r["area"] == STREET)
    assert street["components_without_maintainer"] == 1
    bad = admin.get("/api/stewardship/quality/?days=0")
    assert bad.status_code == 400 and bad.json()["field"] == "days"
    inspector = Client()
    inspector.force_login(cast["inspector"])
    assert inspector.get("/map/data/quality/").status_code == 403
    assert inspector.get("/api/stewardship/quality/").status_code == 403


def test_a_point_on_the_cells_border_is_not_outside(small_city: dict[str, Area], db: None) -> None:
    cell = small_city[CELLS["own"]]
    xmin, ymin, _xmax, _ymax = cell.geom.extent
    person = Person.objects.create(
        name="丁", id_number=with_check_digit("44010619900101004"), geom=Point(xmin, ymin + 0.005)
    )
    person.refresh_from_db()
    result = quality.report(small_city["440100"], days=365)
    assert result.totals.layers["population"]["outside"] == 0
