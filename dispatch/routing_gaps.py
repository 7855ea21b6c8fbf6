"""Which catalogue subcategories reach no unit, per district (`manage.py routing_gaps`).

A subcategory reaches a unit in a district when, for a case of it in every street of the
district, routing (dispatch.routing) finds a unit on purpose: the first rule without a
channel or time-of-day condition that matches it names a unit, finds the department of
its unit type, or says to send it to the territorial owner (owner_only); or, for a
component class, every component of that class in the district has a maintaining unit.
A gap is what is left: no rule matches (the case only falls to the street office,
属地兜底), or the matching rule looks for a department of a unit type that no unit has
over the place (and falls back to the territorial owner). Rules with a channel or a time
condition refine a route and are not counted; nor are rules scoped to a community or cell.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, Q

from dispatch.routing import Compiled, Place, compiled
from layers.models import Area, Category, CategoryKind, Component, Tier


@dataclass(frozen=True)
class Gap:
    district: Area
    category: Category
    outcome: str  # what routing does with such a case
    streets: int  # streets of the district where it happens
    of_streets: int
    maintained: tuple[int, int] | None  # components with a maintaining unit, of all


def routing_gaps() -> list[Gap]:
    """Every (district, active subcategory) that reaches no unit, in code order."""
    table = compiled()
    categories = list(
        Category.objects.filter(active=True)
        .exclude(minor_code="")
        .order_by("kind", "major_code", "minor_code")
    )
    streets = defaultdict(list)
    for street_id, parent_id in (
        Area.objects.current().filter(tier=Tier.STREET).values_list("pk", "parent_id")
    ):
        streets[parent_id].append(street_id)
    districts = Area.objects.filter(pk__in=list(streets)).defer("geom").order_by("code")
    owners = _maintained()
    gaps = []
    for district in districts:
        city = district.parent_id or district.pk
        places = [Place(None, None, s, district.pk, city) for s in sorted(streets[district.pk])]
        for category in categories:
            maintained = owners.get((district.pk, category.pk))
            if (
                category.kind == CategoryKind.COMPONENT
                and maintained
                and maintained[0] == maintained[1]
            ):
                continue
            missed = [o for o in (outcome(table, category, p) for p in places) if o is not None]
            if missed:
                gaps.append(
                    Gap(district, category, missed[0], len(missed), len(places), maintained)
                )
    return gaps


def outcome(table: Compiled, category: Category, place: Place) -> str | None:
    """None if routing reaches a unit for `category` at `place` on purpose, else what it
    does instead."""
    for rule in table.candidates(category, place, channel=None, at=None):
        unit, how = table.rule_unit(rule, category, place)
        if unit is None:
            return f"规则{rule.order}「{rule.name}」在此没有单位"
        if how == "属地单位" and not rule.owner_only and rule.unit_id is None:
            wanted = category.default_unit_type or "（分类未设默认责任单位类型）"
            return f"规则{rule.order}「{rule.name}」：没有{wanted} → 属地单位{unit.name}"
        return None
    return "无匹配规则 → 属地兜底"


def _all_kept(maintained: tuple[int, int] | None) -> bool:
    return maintained is not None and maintained[0] == maintained[1] > 0


def _maintained() -> dict[tuple[int, int], tuple[int, int]]:
    """(district, category) → (components with a maintaining unit, all components)."""
    rows = (
        Component.objects.values("district_id", "category_id")
        .annotate(n=Count("pk"), kept=Count("pk", filter=Q(maintainer__isnull=False)))
        .order_by()
    )
    return {(r["district_id"], r["category_id"]): (r["kept"], r["n"]) for r in rows}
