"""Routing to the component's maintaining unit (养护单位): a report that names a
component's code, or of a component class near a component of that class, goes to the
unit that maintains it, before any rule; the reason is kept in the dispatch record and
the case's history."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dispatch.models import Assignment
from dispatch.routing import route
from gridmgmt import clock
from incidents.models import Case
from layers.models import Area, Category, CategoryKind, Component, Tier, Unit, UnitKind
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, MONDAY_10, act, client_for

SEWER_COVER = "0102"  # 污水井盖, default unit type 排水企业
COVER_CODE = "4401060102000001"


def _category(code: str) -> Category:
    return Category.objects.get(
        kind=CategoryKind.COMPONENT, major_code=code[:2], minor_code=code[2:]
    )


def _moved(point: Point, metres: float, azimuth_deg: float = 90) -> Point:
    """`point` moved `metres` on the spheroid (PostGIS ST_Project)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Project(ST_SetSRID(ST_MakePoint(%s, %s),"
            " 4326)::geography, %s, radians(%s))::geometry AS p) t",
            [point.x, point.y, metres, azimuth_deg],
        )
        x, y = cursor.fetchone()
    return Point(x, y, srid=4326)


def _report(user: User, point: Point, category: Category, **extra: str) -> int:
    body = {
        "client_uuid": str(uuid.uuid4()),
        "category": category.pk,
        "description": "污水井盖破损，有冒溢",
        "lon": point.x,
        "lat": point.y,
        "datum": "wgs84",
        **extra,
    }
    answer = client_for(user).post("/api/cases/reports/", body, format="multipart")
    assert answer.status_code == 201, answer.json()
    return int(answer.json()["case"]["id"])


def _dispatched(loop: dict[str, User], case_id: int) -> Case:
    assert act(loop["street"], case_id, "file").status_code == 200
    answer = act(loop["street"], case_id, "dispatch")
    assert answer.status_code == 200, answer.json()
    return Case.objects.select_related("unit").get(pk=case_id)


def _maintainer(district: Area) -> Unit:
    return Unit.objects.create(
        name="天河区排水设施养护所", code="12440106MB0000001X", tier=Tier.DISTRICT,
        kind=UnitKind.DEPARTMENT, area=district,
    )  # fmt: skip


@clock.travel(MONDAY_10, tick=False)
def test_a_broken_sewer_cover_goes_to_its_maintainer(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    maintainer = _maintainer(small_city["440106"])
    cover_at = centre(small_city[INSPECTOR_CELL])
    # The file names the maintainer by its code: the reference follows (layers.owners).
    cover = Component.objects.create(
        code=COVER_CODE, category=_category(SEWER_COVER), geom=cover_at, name="污水井盖",
        maintainer_unit="12440106MB0000001X",
    )  # fmt: skip
    assert cover.maintainer_id == maintainer.pk

    # Reported 12 m from the cover, without its code: the nearest cover of the class.
    case = _dispatched(loop, _report(loop["inspector"], _moved(cover_at, 12), cover.category))
    assert case.unit == maintainer
    assert case.unit.name != "天河区指挥中心"
    assignment = Assignment.objects.get(case=case)
    assert assignment.rule is None
    assert assignment.reason == (
        "按部件养护单位派遣：部件4401060102000001（污水井盖，距上报点12米）"
        "→ 养护单位天河区排水设施养护所"
    )
    event = case.history.get(action="dispatch")
    assert event.data["reason"] == assignment.reason
    assert (event.data["unit_by"], event.data["component"]) == ("component", COVER_CODE)


@clock.travel(MONDAY_10, tick=False)
def test_the_component_code_wins_over_distance_and_rules_apply_without_an_owner(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    maintainer = _maintainer(small_city["440106"])
    cover_at = centre(small_city[INSPECTOR_CELL])
    category = _category(SEWER_COVER)
    Component.objects.create(
        code=COVER_CODE, category=category, geom=cover_at, maintainer=maintainer
    )
    far = _moved(cover_at, 80)  # beyond ROUTING_COMPONENT_DISTANCE_M (30 m)

    named = _dispatched(loop, _report(loop["inspector"], far, category, component_code=COVER_CODE))
    assert named.unit == maintainer
    assert "部件4401060102000001（污水井盖）" in Assignment.objects.get(case=named).reason

    # Too far from any cover, and no code: the rules decide (the drainage company that
    # the demo routing gives the city for 排水企业, found above the district).
    unnamed = _dispatched(loop, _report(loop["inspector"], far, category))
    assert unnamed.unit is not None and unnamed.unit.unit_type == "排水企业"
    assert unnamed.unit.area.tier == Tier.CITY
    rule = Assignment.objects.get(case=unnamed).rule
    assert rule is not None and rule.name == "部件（公用设施）派区级专业部门"


@clock.travel(MONDAY_10, tick=False)
def test_a_cover_without_maintainer_or_retired_leaves_it_to_the_rules(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    maintainer = _maintainer(small_city["440106"])
    at = centre(small_city[INSPECTOR_CELL])
    category = _category(SEWER_COVER)
    Component.objects.create(
        code=COVER_CODE, category=category, geom=at, maintainer_unit="不存在的养护公司"
    )
    Component.objects.create(
        code="4401060102000002", category=category, geom=_moved(at, 20), state="retired",
        maintainer=maintainer,
    )  # fmt: skip
    case = Case.objects.select_related("category", "district").get(
        pk=_report(loop["inspector"], _moved(at, 5), category)
    )
    chosen = route(case, at=MONDAY_10)
    assert chosen.unit != maintainer and chosen.rule is not None


@clock.travel(MONDAY_10, tick=False)
def test_routing_one_report_reads_the_stamp_and_the_component_only(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    maintainer = _maintainer(small_city["440106"])
    at = centre(small_city[INSPECTOR_CELL])
    category = _category(SEWER_COVER)
    Component.objects.create(code=COVER_CODE, category=category, geom=at, maintainer=maintainer)
    event = Category.objects.get(kind=CategoryKind.EVENT, major_code="04", minor_code="01")
    cases = [
        Case.objects.select_related("category", "district").get(
            pk=_report(loop["inspector"], _moved(at, 3), c)
        )
        for c in (category, event)
    ]
    route(cases[1], at=MONDAY_10)  # compiles the rules of this stamp
    with CaptureQueriesContext(connection) as component_case:
        assert route(cases[0], at=MONDAY_10).unit == maintainer
    with CaptureQueriesContext(connection) as event_case:
        assert route(cases[1], at=MONDAY_10).rule is not None
    # The routing stamp; for a component class, the nearest component with its maintainer
    # (which answers: the rules are not needed).
    assert len(event_case) == 1, [q["sql"] for q in event_case]
    assert len(component_case) == 1, [q["sql"] for q in component_case]
    assert "layers_component" in component_case[0]["sql"]
