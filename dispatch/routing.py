"""Routing (派遣规则): which unit at which tier must fix a case.

Who gets a case, first answer wins (docs/architecture.md, 派遣):

1. the unit a dispatcher picks (dispatch.services; not decided here);
2. the component's maintaining unit (养护单位): a report that names a component's code,
   or of a component class with a component of that class within
   ROUTING_COMPONENT_DISTANCE_M of the point (the nearest), goes to the unit that
   maintains the component (layers.owners);
3. the rules: the first active RoutingRule, in `order`, whose category, area, channel
   and time of day all match. Its unit, if set; otherwise the department of the
   category's unit type (Category.default_unit_type = Unit.unit_type) over the case's
   place at the rule's tier or, if that tier has none, the nearest tier above (a
   district rule finds the city's water company) — unless the rule says owner_only —
   else the territorial owner at the rule's tier (属地);
4. with no rule, the case falls to its owners in turn: the street office, then the
   district, then the city (属地兜底).

Every route says why. Routing is on the path of every report (自动立案派遣), so it is
cheap: the rules, the units they can name and the catalogue's names are compiled once
per process and kept while the database's routing stamp is unchanged (dispatch migration
0007: any statement on the rules, the units or the catalogue gives it a new value; 0014:
the stage limits and the calendar's days too, which dispatch.reference copies behind it).
Routing a case reads the stamp — one query — and, for a component class, looks the
nearest component up first — one more, or the only one when its maintainer answers.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils.translation import gettext as _

from dispatch import reference
from dispatch.models import RoutingRule, TargetTier
from incidents.models import Case
from layers.models import Category, CategoryKind, ComponentState, Tier, Unit, UnitKind

# Tier above each tier, for escalation.
NEXT_TIER = {Tier.STREET: TargetTier.DISTRICT, Tier.DISTRICT: TargetTier.CITY}
# The tiers a rule's department is looked for at, from the rule's own tier upwards.
TIERS_UP = {
    TargetTier.STREET: (TargetTier.STREET, TargetTier.DISTRICT, TargetTier.CITY),
    TargetTier.DISTRICT: (TargetTier.DISTRICT, TargetTier.CITY),
    TargetTier.CITY: (TargetTier.CITY,),
}
FALLBACK_TIERS = (TargetTier.STREET, TargetTier.DISTRICT, TargetTier.CITY)


class NoUnit(LookupError):
    """No unit answers for the case's place: the city's units are not set up."""


@dataclass(frozen=True)
class Route:
    unit: Unit
    tier: str
    rule: RoutingRule | None
    reason: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Place:
    """Where a case lies, as routing sees it: its areas from the cell to the city."""

    cell: int | None
    community: int | None
    street: int
    district: int
    city: int

    def at(self, tier: str) -> int:
        if tier == TargetTier.STREET:
            return self.street
        if tier == TargetTier.DISTRICT:
            return self.district
        return self.city

    @property
    def areas(self) -> frozenset[int]:
        ids = (self.cell, self.community, self.street, self.district, self.city)
        return frozenset(a for a in ids if a is not None)


def place_of(case: Case) -> Place:
    return Place(
        case.cell_id, case.community_id, case.street_id, case.district_id,
        area_id_at(case, TargetTier.CITY),
    )  # fmt: skip


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
    return compiled().territorial_unit(area_id_at(case, tier))


def route(case: Case, *, at: dt.datetime, stamp: int | None = None) -> Route:
    """Who must fix `case` (its category and district loaded), as of `at`. `stamp`: the
    routing stamp the caller read in this request already (dispatch.reference)."""
    by_component = component_route(case)
    if by_component is not None:
        return by_component
    found = compiled(stamp).route(case.category, place_of(case), channel=case.channel, at=at)
    if found is not None:
        return found
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


# The component's maintaining unit (养护单位) ------------------------------------------


def component_route(case: Case) -> Route | None:
    """The maintaining unit of the component the report is about: the one whose code it
    names, else, for a component class, the nearest of that class within the set
    distance (retired ones left out). None when there is none or it has no maintainer."""
    category = case.category
    params: list[Any]
    if case.component_code:
        sql, params = _BY_CODE, [case.component_code]
    elif category.kind == CategoryKind.COMPONENT and category.minor_code:
        point, metres = bytes(case.geom.ewkb), settings.ROUTING_COMPONENT_DISTANCE_M
        sql = _NEAREST
        params = [point, category.pk, str(ComponentState.RETIRED), point, metres, point, metres]
    else:
        return None
    # One statement written out: on every report of a component class, the ORM's
    # compiling of it cost more than running it.
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None or row[3] is None:  # none, or the nearest has no maintainer
        return None
    code, name, distance, *unit_values = row
    unit = Unit.from_db(connection.alias, ("id", *UNIT_FIELDS), unit_values)
    where = f"，距上报点{distance:.0f}米" if distance is not None else ""
    label = name or category.name
    reason = f"按部件养护单位派遣：部件{code}（{label}{where}）→ 养护单位{unit.name}"
    tier = unit.tier if unit.tier in TargetTier.values else TargetTier.STREET
    data = {"rule": None, "unit_by": "component", "component": code}
    return Route(unit, tier, None, reason, data)


_UNIT_COLUMNS = ", ".join(f"u.{f.column}" for f in Unit._meta.concrete_fields)
_BY_CODE = f"""
    SELECT c.code, c.name, NULL, {_UNIT_COLUMNS}
    FROM layers_component c LEFT JOIN layers_unit u ON u.id = c.maintainer_id
    WHERE c.code = %s
"""
# Metres on the spheroid (geography). The bounding box of the geography buffer lets the
# geometry's GiST index answer first; no degree arithmetic of our own.
_NEAREST = f"""
    SELECT c.code, c.name, ST_Distance(c.geom::geography, ST_GeomFromEWKB(%s)::geography),
           {_UNIT_COLUMNS}
    FROM layers_component c LEFT JOIN layers_unit u ON u.id = c.maintainer_id
    WHERE c.category_id = %s AND c.state <> %s
      AND c.geom && ST_Envelope(ST_Buffer(ST_GeomFromEWKB(%s)::geography, %s)::geometry)
      AND ST_DWithin(c.geom::geography, ST_GeomFromEWKB(%s)::geography, %s)
    ORDER BY 3, c.id
    LIMIT 1
"""


# The compiled rules ---------------------------------------------------------------

UNIT_FIELDS = tuple(
    f.attname for f in Unit._meta.concrete_fields if f.attname != "id"
)  # name, tier, area_id …
RULE_FIELDS = tuple(f.attname for f in RoutingRule._meta.concrete_fields)


@dataclass(frozen=True)
class _Rule:
    values: tuple[Any, ...]  # RULE_FIELDS, for a fresh RoutingRule per route
    order: int
    name: str
    category_id: int | None
    major: tuple[str, str] | None  # (kind, major code) of a major-class rule
    area_id: int | None
    channel: str
    time_from: dt.time | None
    time_to: dt.time | None
    tier: str
    owner_only: bool
    unit_id: int | None
    conditions: str

    def matches_time(self, now: dt.time) -> bool:
        start, end = self.time_from, self.time_to
        if start is None or end is None:
            return True
        if start <= end:
            return start <= now < end
        return now >= start or now < end  # spans midnight

    def instance(self) -> RoutingRule:
        return RoutingRule.from_db(connection.alias, RULE_FIELDS, self.values)


class Compiled:
    """The routing rules and the units they may name, as of one routing stamp."""

    def __init__(self, stamp: int) -> None:
        self.stamp = stamp
        self.rules = _load_rules()
        unit_ids = {r.unit_id for r in self.rules if r.unit_id is not None}
        self.units: dict[int, tuple[Any, ...]] = {}
        self.territorial: dict[int, int] = {}  # area → its owner (lowest id)
        self.departments: dict[tuple[int, str], int] = {}  # (area, unit type) → unit
        for pk, *values in _load_units(unit_ids):
            unit = dict(zip(UNIT_FIELDS, values, strict=True))
            self.units[pk] = (pk, *values)
            if unit["kind"] == UnitKind.TERRITORIAL:
                self.territorial.setdefault(unit["area_id"], pk)
            elif unit["kind"] == UnitKind.DEPARTMENT and unit["unit_type"]:
                self.departments.setdefault((unit["area_id"], unit["unit_type"]), pk)
        self._by_category: dict[int, tuple[_Rule, ...]] = {}
        self._lock = threading.Lock()

    def unit(self, pk: int | None) -> Unit | None:
        if pk is None or pk not in self.units:
            return None
        return Unit.from_db(connection.alias, ("id", *UNIT_FIELDS), self.units[pk])

    def territorial_unit(self, area_id: int) -> Unit | None:
        return self.unit(self.territorial.get(area_id))

    def department(self, place: Place, tier: str, unit_type: str) -> Unit | None:
        for up in TIERS_UP[TargetTier(tier)]:
            found = self.departments.get((place.at(up), unit_type))
            if found is not None:
                return self.unit(found)
        return None

    def rules_for(self, category: Category) -> tuple[_Rule, ...]:
        """The rules whose category condition holds for `category`, in order."""
        found = self._by_category.get(category.pk)
        if found is None:
            major = (category.kind, category.major_code)
            found = tuple(
                r
                for r in self.rules
                if r.category_id is None or r.category_id == category.pk or r.major == major
            )
            with self._lock:
                self._by_category[category.pk] = found
        return found

    def route(
        self, category: Category, place: Place, *, channel: str | None, at: dt.datetime | None
    ) -> Route | None:
        """The rule route, else the territorial fallback; None when no unit answers.
        `channel`/`at` None: only rules without a channel or time condition count."""
        for rule in self.candidates(category, place, channel=channel, at=at):
            unit, how = self.rule_unit(rule, category, place)
            if unit is not None:
                reason = f"规则{rule.order}「{rule.name}」：{rule.conditions} → {how}{unit.name}"
                data = {"rule": rule.values[0], "unit_by": how}
                return Route(unit, rule.tier, rule.instance(), reason, data)
        for tier in FALLBACK_TIERS:
            unit = self.territorial_unit(place.at(tier))
            if unit is not None:
                reason = f"无匹配规则，属地兜底：{TargetTier(tier).label}级属地单位{unit.name}"
                return Route(unit, tier, None, reason, {"rule": None, "unit_by": "fallback"})
        return None

    def candidates(
        self, category: Category, place: Place, *, channel: str | None, at: dt.datetime | None
    ) -> Iterable[_Rule]:
        areas = place.areas
        local = at.astimezone(ZoneInfo(settings.TIME_ZONE)).time() if at is not None else None
        for rule in self.rules_for(category):
            if rule.area_id is not None and rule.area_id not in areas:
                continue
            if rule.channel and rule.channel != channel:
                continue
            if local is None:
                if rule.time_from is not None and rule.time_to is not None:
                    continue
            elif not rule.matches_time(local):
                continue
            yield rule

    def rule_unit(self, rule: _Rule, category: Category, place: Place) -> tuple[Unit | None, str]:
        """The unit a rule names for a case of `category` at `place`, and how it was found
        ("指定单位", "<unit type>：", "属地单位")."""
        if rule.unit_id is not None:
            return self.unit(rule.unit_id), "指定单位"
        unit_type = category.default_unit_type
        if unit_type and not rule.owner_only:
            department = self.department(place, rule.tier, unit_type)
            if department is not None:
                return department, f"{unit_type}："
        return self.territorial_unit(place.at(rule.tier)), "属地单位"


_compiled: Compiled | None = None


def compiled(stamp: int | None = None) -> Compiled:
    """The compiled rules of the current routing stamp (one query to read it, unless the
    caller has read it in this request; the rules and units are loaded again only when
    it changed)."""
    global _compiled
    if stamp is None:
        stamp = reference.read_stamp()
    table = _compiled
    if table is None or table.stamp != stamp:
        table = Compiled(stamp)
        _compiled = table
    return table


def _load_rules() -> list[_Rule]:
    rows = (
        RoutingRule.objects.filter(active=True)
        .order_by("order", "id")
        .values_list(*RULE_FIELDS, "category__kind", "category__major_code",
                     "category__minor_code", "category__name", "area__name")
    )  # fmt: skip
    rules = []
    for row in rows:
        values, (kind, major, minor, category_name, area_name) = row[: len(RULE_FIELDS)], row[-5:]
        rule = dict(zip(RULE_FIELDS, values, strict=True))
        rules.append(
            _Rule(
                values=tuple(values),
                order=rule["order"],
                name=rule["name"],
                category_id=rule["category_id"],
                major=(kind, major) if rule["category_id"] and not minor else None,
                area_id=rule["area_id"],
                channel=rule["channel"],
                time_from=rule["time_from"],
                time_to=rule["time_to"],
                tier=rule["tier"],
                owner_only=rule["owner_only"],
                unit_id=rule["unit_id"],
                conditions=_conditions(rule, category_name, area_name),
            )
        )
    return rules


def _load_units(extra: set[int]) -> list[tuple[Any, ...]]:
    """Territorial units, departments with a unit type, and the units rules name."""
    units = Unit.objects.filter(
        Q(kind=UnitKind.TERRITORIAL) | (Q(kind=UnitKind.DEPARTMENT) & ~Q(unit_type=""))
        | Q(pk__in=extra)
    )  # fmt: skip
    return list(units.order_by("pk").values_list("id", *UNIT_FIELDS))


def _conditions(rule: dict[str, Any], category: str | None, area: str | None) -> str:
    parts = [
        f"分类={category}" if category else "分类=任意",
        f"区域={area}" if area else "区域=任意",
        f"渠道={RoutingRule(channel=rule['channel']).get_channel_display()}"
        if rule["channel"]
        else "渠道=任意",
    ]
    if rule["time_from"] and rule["time_to"]:
        parts.append(f"时段={rule['time_from']:%H:%M}-{rule['time_to']:%H:%M}")
    return "，".join(parts)


# A redraw (layers.redraw) -----------------------------------------------------------


def rules_follow_redraw(
    sender: object, pairs: list[tuple[Any, Any]], **kwargs: Any
) -> dict[str, int]:
    """Receiver of layers.signals.areas_succeeded: rules scoped to a retired area are
    scoped to its successor (inside the redraw's transaction)."""
    moved = 0
    for old, new in pairs:
        moved += RoutingRule.objects.filter(area_id=old.pk).update(area_id=new.pk)
    return {"routing_rules": moved}
