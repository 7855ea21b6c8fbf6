"""Routing (派遣规则): which unit at which tier must fix a case.

The first active RoutingRule, in `order`, whose category, area, channel and time of day
all match the case fires. Its unit, if set, gets the case; otherwise the department of
the category's unit type (Category.default_unit_type = Unit.unit_type) over the case's
place at the rule's tier (unless the rule says owner_only), else the territorial owner
there (属地). With no rule, the
case falls to its owners in turn: the street office, then the district, then the city
(属地兜底). Every route says which rule fired and why.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext as _

from dispatch.models import RoutingRule, TargetTier
from incidents.models import Case
from layers.models import Tier, Unit, UnitKind

# Tier above each tier, for escalation.
NEXT_TIER = {Tier.STREET: TargetTier.DISTRICT, Tier.DISTRICT: TargetTier.CITY}


class NoUnit(LookupError):
    """No unit answers for the case's place: the city's units are not set up."""


@dataclass(frozen=True)
class Route:
    unit: Unit
    tier: str
    rule: RoutingRule | None
    reason: str
    data: dict[str, Any] = field(default_factory=dict)


def area_id_at(case: Case, tier: str) -> int:
    """The case's area at `tier`: its street, its district or the city."""
    if tier == TargetTier.STREET:
        return case.street_id
    if tier == TargetTier.DISTRICT:
        return case.district_id
    return case.district.parent_id or case.district_id


def places_of(case: Case) -> list[int]:
    """The case's cell, community, street, district and city."""
    places = [case.cell_id, case.community_id, case.street_id, case.district_id]
    return [*places, area_id_at(case, TargetTier.CITY)]


def territorial_unit(case: Case, tier: str) -> Unit | None:
    """The owner of the case's place at `tier` (street office, district or city command)."""
    units = Unit.objects.filter(area_id=area_id_at(case, tier), kind=UnitKind.TERRITORIAL)
    return units.order_by("pk").first()


def route(case: Case, *, at: dt.datetime) -> Route:
    local_time = at.astimezone(ZoneInfo(settings.TIME_ZONE)).time()
    for rule in _candidate_rules(case):
        if not _time_matches(rule, local_time):
            continue
        unit, how = _rule_unit(case, rule)
        if unit is not None:
            reason = f"规则{rule.order}「{rule.name}」：{_conditions(rule)} → {how}{unit.name}"
            return Route(unit, rule.tier, rule, reason, {"rule": rule.pk, "unit_by": how})
    for tier in (TargetTier.STREET, TargetTier.DISTRICT, TargetTier.CITY):
        unit = territorial_unit(case, tier)
        if unit is not None:
            reason = f"无匹配规则，属地兜底：{TargetTier(tier).label}级属地单位{unit.name}"
            return Route(unit, tier, None, reason, {"rule": None, "unit_by": "fallback"})
    raise NoUnit(
        _("案件所在街道（编号 %(street)s）、其所在区和市都没有负责单位")
        % {"street": case.street_id}
    )


def escalation_route(case: Case, *, reason: str) -> Route:
    """The territorial unit one tier above the case's current unit (street → district →
    city); a city-level case stays with the city command centre."""
    tier = tier_above(case)
    unit = territorial_unit(case, tier)
    if unit is None:
        raise NoUnit(
            _("%(unit)s之上没有设置%(tier)s级指挥单位")
            % {"unit": case.unit, "tier": TargetTier(tier).label}
        )
    return Route(unit, tier, None, f"上报{TargetTier(tier).label}级：{reason}", {"escalated": True})


def tier_above(case: Case) -> str:
    """The tier above the case's current unit (a case with none counts as the street's)."""
    current = Tier(case.unit.tier) if case.unit else Tier.STREET
    return NEXT_TIER.get(current, TargetTier.CITY)


def _candidate_rules(case: Case) -> list[RoutingRule]:
    category = case.category
    same_major = Q(
        category__kind=category.kind,
        category__major_code=category.major_code,
        category__minor_code="",
    )
    rules = (
        RoutingRule.objects.filter(active=True)
        .filter(Q(category__isnull=True) | Q(category_id=category.pk) | same_major)
        .filter(Q(area__isnull=True) | Q(area_id__in=places_of(case)))
        .filter(Q(channel="") | Q(channel=case.channel))
        .select_related("unit", "category", "area")
        .order_by("order", "id")
    )
    return list(rules)


def _time_matches(rule: RoutingRule, now: dt.time) -> bool:
    start, end = rule.time_from, rule.time_to
    if start is None or end is None:
        return True
    if start <= end:
        return start <= now < end
    return now >= start or now < end  # spans midnight


def _rule_unit(case: Case, rule: RoutingRule) -> tuple[Unit | None, str]:
    if rule.unit is not None:
        return rule.unit, "指定单位"
    area_id = area_id_at(case, rule.tier)
    unit_type = case.category.default_unit_type
    if unit_type and not rule.owner_only:
        department = (
            Unit.objects.filter(area_id=area_id, kind=UnitKind.DEPARTMENT, unit_type=unit_type)
            .order_by("pk")
            .first()
        )
        if department is not None:
            return department, f"{unit_type}："
    return territorial_unit(case, rule.tier), "属地单位"


def _conditions(rule: RoutingRule) -> str:
    parts = [
        f"分类={rule.category.name}" if rule.category else "分类=任意",
        f"区域={rule.area.name}" if rule.area else "区域=任意",
        f"渠道={rule.get_channel_display()}" if rule.channel else "渠道=任意",
    ]
    if rule.time_from and rule.time_to:
        parts.append(f"时段={rule.time_from:%H:%M}-{rule.time_to:%H:%M}")
    return "，".join(parts)
