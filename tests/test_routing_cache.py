"""The compiled routing rules: kept per process while the database's routing stamp is
unchanged, compiled again after any change to the rules, the units or the catalogue —
whatever made it (the ORM, a bulk UPDATE, raw SQL)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import connection

from dispatch import routing
from dispatch.models import RoutingRule
from dispatch.routing import route
from gridmgmt import clock
from incidents.models import Case
from layers.models import Area, Unit
from tests.loop import MONDAY_10, report


def _stamp() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT stamp FROM dispatch_routing_stamp")
        return int(cursor.fetchone()[0])


@clock.travel(MONDAY_10, tick=False)
def test_rules_are_compiled_once_and_again_after_each_change(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    case_id = report(loop["inspector"], small_city, category="0401").json()["case"]["id"]
    case = Case.objects.select_related("category", "district").get(pk=case_id)
    first = route(case, at=MONDAY_10)
    assert first.unit.name == "天河区交通运输局" and first.rule is not None
    table = routing.compiled()
    assert routing.compiled() is table  # nothing changed: the same compiled rules

    # A rule added in the admin takes effect at the next route.
    water = Unit.objects.get(name="广州市水务局")
    before = _stamp()
    RoutingRule.objects.create(order=1, name="全部给水务", tier="city", unit=water)
    assert _stamp() != before
    assert route(case, at=MONDAY_10).unit == water
    assert routing.compiled() is not table

    # A bulk UPDATE (no save(), no signal) is seen too.
    RoutingRule.objects.filter(order=1).update(active=False)
    assert route(case, at=MONDAY_10).unit.name == "天河区交通运输局"

    # A unit renamed with raw SQL: the reason names it by its new name.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE layers_unit SET name = '天河区交通运输局（新）' WHERE name = '天河区交通运输局'"
        )
    again = route(case, at=MONDAY_10)
    assert again.unit.name == "天河区交通运输局（新）"
    assert again.reason.endswith("→ 交通运输局：天河区交通运输局（新）")
