"""Create the demo city's routing rules, unless some exist (they are data: edit them in
the admin at 指挥调度 › 派遣规则), and the city-level units they need.

    manage.py create_demo_routing

Every subcategory of the catalogue reaches a unit (`manage.py routing_gaps` lists those
that do not): street-order events (05) reported by inspectors are filed and dispatched
to the street office at once (自动立案派遣), the rest of street order, city appearance
(01) and advertising (02) go to the street office, which escalates what is beyond it;
emergencies (04) go to the district — at night to its command centre on duty; construction
(03), extension events (99) and every component class (部件) go to the department of the
category's unit type, the district's or, where the district has none, the city's. The
subcategories whose unit type is the street office itself go to the street office. For
every unit type of the catalogue that no district or city department has, a city-level
unit is created (水务, 供电, 燃气, 公安 …). A report about a component with a maintaining
unit goes to that unit before any rule (dispatch.routing).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from dispatch.models import RoutingRule, TargetTier
from incidents.models import Channel
from layers.models import Area, Category, CategoryKind, Tier, Unit, UnitKind

# The unit type of the subcategories the street office handles itself.
STREET_OFFICE = "街道办事处"

# The demo city's units for the unit types the district departments do not cover: the
# name after the city's name, and its English after the city's English name.
CITY_UNITS: dict[str, tuple[str, str]] = {
    "水务部门": ("水务局", "Water Authority"),
    "供水企业": ("自来水有限公司", "Water Supply Company"),
    "排水企业": ("排水有限公司", "Drainage Company"),
    "供电企业": ("供电局", "Power Supply Bureau"),
    "燃气企业": ("燃气集团", "Gas Group"),
    "通信运营企业": ("通信管线管理中心", "Telecom Lines Centre"),
    "城市照明管理单位": ("城市照明管理中心", "Street Lighting Centre"),
    "市政设施养护单位": ("市政设施养护中心", "Municipal Facilities Maintenance Centre"),
    "井盖权属单位": ("井盖管理协调中心", "Manhole Cover Coordination Centre"),
    "公安机关": ("公安局", "Public Security Bureau"),
    "公安交警": ("公安局交通警察支队", "Traffic Police Detachment"),
    "消防救援机构": ("消防救援支队", "Fire and Rescue Detachment"),
    "应急管理部门": ("应急管理局", "Emergency Management Bureau"),
    "民政局": ("民政局", "Civil Affairs Bureau"),
    "规划和自然资源局": ("规划和自然资源局", "Planning and Natural Resources Bureau"),
    "文化广电旅游部门": ("文化广电旅游局", "Culture, Radio, TV and Tourism Bureau"),
    "文化广电旅游体育局": ("文化广电旅游体育局", "Culture, Radio, TV, Tourism and Sports Bureau"),
    "人防部门": ("人民防空办公室", "Civil Air Defence Office"),
    "邮政管理部门": ("邮政管理局", "Postal Administration"),
}


class Command(BaseCommand):
    help = "Create the demo routing rules (skipped when any rule exists) and their units."

    def handle(self, *args: Any, **options: Any) -> None:
        if RoutingRule.objects.exists():
            self.stdout.write("routing rules exist: left alone")
            return
        categories = list(Category.objects.filter(active=True))
        majors = {(c.kind, c.major_code): c for c in categories if not c.minor_code}
        if not majors:
            raise CommandError("The catalogue is empty: run `manage.py loaddata catalogue`.")
        with transaction.atomic():
            units = _city_units(categories)
            rules = _rules(majors, categories)
            RoutingRule.objects.bulk_create(rules)
        if units:
            self.stdout.write(f"{units} city-level units created for the catalogue's unit types")
        self.stdout.write(f"{len(rules)} routing rules created")


def _rules(
    majors: dict[tuple[str, str], Category], categories: list[Category]
) -> list[RoutingRule]:
    def major(kind: str, code: str) -> Category:
        return majors[(kind, code)]

    event, street, district = CategoryKind.EVENT, TargetTier.STREET, TargetTier.DISTRICT
    rules = [
        RoutingRule(order=5, name="网格员上报的街面秩序事件自动派遣属地街道",
                    category=major(event, "05"), channel=Channel.APP,
                    tier=street, owner_only=True, auto_dispatch=True),
        RoutingRule(order=10, name="夜间突发事件由区指挥中心值班处置",
                    category=major(event, "04"), tier=district,
                    time_from=dt.time(18), time_to=dt.time(9), owner_only=True),
        RoutingRule(order=20, name="突发事件派区级专业部门",
                    category=major(event, "04"), tier=district),
        RoutingRule(order=30, name="施工管理派区级专业部门",
                    category=major(event, "03"), tier=district),
    ]  # fmt: skip
    # What the street office handles itself, by unit type, before the class rules.
    own = [c for c in categories if c.minor_code and c.default_unit_type == STREET_OFFICE]
    rules += [
        RoutingRule(order=35, name=f"{c.name}由属地街道处置", category=c, tier=street,
                    owner_only=True)
        for c in own if c.kind == CategoryKind.COMPONENT
    ]  # fmt: skip
    components = sorted(k[1] for k in majors if k[0] == CategoryKind.COMPONENT)
    rules += [
        RoutingRule(order=40 + n, name=f"部件（{majors[(CategoryKind.COMPONENT, code)].name}）"
                    "派区级专业部门", category=majors[(CategoryKind.COMPONENT, code)],
                    tier=district)
        for n, code in enumerate(components)
    ]  # fmt: skip
    for n, code in enumerate(("01", "02", "05")):
        if (event, code) in majors:
            rules.append(
                RoutingRule(order=60 + n, name=f"{major(event, code).name}事件由属地街道处置",
                            category=major(event, code), tier=street, owner_only=True)
            )  # fmt: skip
    if (event, "99") in majors:
        rules.append(
            RoutingRule(order=70, name="扩展事件派专业部门", category=major(event, "99"),
                        tier=district)
        )  # fmt: skip
    return rules


def _city_units(categories: list[Category]) -> int:
    """A department at the city for each unit type of the catalogue that no department
    has, named after the city; returns how many were created."""
    city = Area.objects.current().filter(tier=Tier.CITY).defer("geom").order_by("code").first()
    if city is None:
        raise CommandError("No city: load the areas first.")
    wanted = {c.default_unit_type for c in categories if c.minor_code and c.default_unit_type}
    wanted.discard(STREET_OFFICE)
    have = set(
        Unit.objects.filter(kind=UnitKind.DEPARTMENT, unit_type__in=wanted).values_list(
            "unit_type", flat=True
        )
    )
    names = set(Unit.objects.values_list("name", flat=True))
    created = []
    for unit_type in sorted(wanted - have):
        name, english = CITY_UNITS.get(unit_type, (unit_type, ""))
        if f"{city.name}{name}" in names:
            continue
        created.append(
            Unit(
                name=f"{city.name}{name}",
                name_en=f"{city.name_en} {english}" if city.name_en and english else "",
                tier=Tier.CITY,
                area=city,
                kind=UnitKind.DEPARTMENT,
                unit_type=unit_type,
            )
        )
    Unit.objects.bulk_create(created)
    return len(created)
