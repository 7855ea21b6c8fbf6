"""Routing rules scoped to an area follow it when it is redrawn (issue 15: what is
assigned to a retired area moves to its successor)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User

from dispatch.models import RoutingRule
from dispatch.routing import route
from gridmgmt import clock
from incidents.models import Case
from layers.models import Area, Unit
from layers.redraw import Change, redraw_areas
from tests.loop import MONDAY_10, report

STREET = "440106001"


def test_rules_scoped_to_a_redrawn_street_follow_its_successor(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    water = Unit.objects.get(name="广州市水务局")
    rule = RoutingRule.objects.create(
        order=1, name="第1街道全部给水务", tier="city", unit=water, area=small_city[STREET]
    )
    old = small_city[STREET]
    result = redraw_areas({STREET: Change(old.geom)}, dt.date(2026, 11, 21))
    [successor] = result.created
    assert result.followed["routing_rules"] == 1
    rule.refresh_from_db()
    assert rule.area_id == successor.pk and successor.pk != old.pk

    # A case filed in the redrawn street is placed in the successor: the rule still fires.
    with clock.travel(MONDAY_10, tick=False):
        case_id = report(loop["inspector"], small_city).json()["case"]["id"]
        case = Case.objects.select_related("category", "district").get(pk=case_id)
        assert case.street_id == successor.pk
        chosen = route(case, at=MONDAY_10)
    assert (chosen.unit, chosen.rule) == (water, rule)
