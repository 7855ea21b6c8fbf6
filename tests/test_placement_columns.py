"""Placement returns codes, not outlines: no query of placement or of intake selects the
geometry of an area or of its pieces (issue 18 item 5). Polygons may still be *used* by
the database in a condition (ST_Covers on the pieces, a distance to one's own cells);
what is checked is that none is sent to Python."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Case, State
from layers.models import Area
from layers.placement import place_point
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, client_for, event_category, report

AREA_TABLES = ("layers_area", "layers_areapiece")


def area_geometry_selected(sql: str) -> list[str]:
    """The `alias."geom"` columns of area tables in the select lists of `sql` (its own
    and its subqueries'), e.g. ['"layers_area"."geom"', 'T3."geom"']."""
    aliases = {f'"{table}"' for table in AREA_TABLES}
    for table in AREA_TABLES:
        aliases |= set(re.findall(rf'"{table}"\s+(?:AS\s+)?(\w+|"\w+")', sql))
    found = []
    for select_list in re.findall(r"SELECT\s(.*?)\sFROM\s", sql, flags=re.S | re.I):
        for alias in aliases:
            if re.search(rf'(?<![\w"]){re.escape(alias)}\."geom"', select_list):
                found.append(f'{alias}."geom"')
    return found


@contextmanager
def no_area_geometry_read() -> Iterator[CaptureQueriesContext]:
    with CaptureQueriesContext(connection) as queries:
        yield queries
    read = {q["sql"][:300]: area_geometry_selected(q["sql"]) for q in queries.captured_queries}
    assert not {sql: cols for sql, cols in read.items() if cols}, read
    assert queries.captured_queries  # something was measured


def test_the_checker_sees_an_area_geometry_when_one_is_read(small_city: dict[str, Area]) -> None:
    # The check must be able to fail: the old placement (select_related of whole areas).
    with CaptureQueriesContext(connection) as queries:
        Area.objects.select_related("parent").filter(tier="cell").first()
    (query,) = queries.captured_queries
    assert sorted(area_geometry_selected(query["sql"])) == ['"layers_area"."geom"', 'T2."geom"']


def test_placement_is_one_query_of_codes_and_names(small_city: dict[str, Area]) -> None:
    with no_area_geometry_read() as queries:
        placement = place_point(Point(113.305, 23.105, srid=4326))
        # The whole chain is attached: reading a parent's code costs no query.
        assert placement.cell.parent == placement.community
        assert placement.community.parent == placement.street
        assert placement.street.parent is placement.district  # the same object, attached
        assert placement.district.code == "440106"
        assert placement.district.parent_id == small_city["440100"].pk
        assert placement.cell.display_name == small_city["440106001001001"].name
    assert len(queries.captured_queries) == 1
    assert (placement.cell.code, placement.community.code, placement.street.code) == (
        "440106001001001",
        "440106001001",
        "440106001",
    )
    # The outline is not gone, only not read: it comes with a query of its own.
    with CaptureQueriesContext(connection) as queries:
        assert placement.cell.geom.equals(small_city["440106001001001"].geom)
    assert len(queries.captured_queries) == 1


def test_intake_reads_no_area_geometry(loop: dict[str, User], small_city: dict[str, Area]) -> None:
    # 街面秩序 (05) from an inspector is dispatched at once by the demo routing; the second
    # report at the same spot finds the first as a likely duplicate.
    with no_area_geometry_read():
        first = report(loop["inspector"], small_city, category="0501")
        second = report(loop["inspector"], small_city, category="0501")
    assert (first.status_code, second.status_code) == (201, 201), second.json()
    assert [c["id"] for c in second.json()["likely_duplicates"]] == [first.json()["case"]["id"]]
    case = Case.objects.get(pk=first.json()["case"]["id"])
    assert case.state == State.DISPATCHED
    assert (case.cell.code, case.district.code) == (INSPECTOR_CELL, "440106")

    point = centre(small_city[INSPECTOR_CELL])
    body = {"channel": "phone", "category": event_category("0101").pk, "description": "有垃圾",
            "address_text": "路口", "lon": point.x, "lat": point.y}  # fmt: skip
    with no_area_geometry_read():
        ticket = client_for(loop["hotline"]).post("/api/cases/tickets/", body, format="json")
    assert ticket.status_code == 201, ticket.json()
    assert Case.objects.get(pk=ticket.json()["case"]["id"]).street.code == INSPECTOR_CELL[:9]


def test_a_point_in_another_srid_is_placed_where_it_lies(small_city: dict[str, Area]) -> None:
    mercator = Point(113.305, 23.105, srid=4326).transform(3857, clone=True)
    assert mercator is not None and mercator.srid == 3857
    assert place_point(mercator).cell.code == "440106001001001"  # type: ignore[arg-type]
