"""The data-quality report of one area (数据质量): per child area (the streets of a
district, the districts of the city, …) and per layer,

- unplaced: records in no grid cell (imported or saved without a placement);
- outside: records placed in a cell that is no longer in force, or whose point its cell
  does not cover (the cell was redrawn and the record not placed again);
- duplicates: records in a duplicate group (stewardship.duplicates);
- unverified: records neither changed nor verified on site for `days` days;
- and, per area, the grid cells in force with no inspector, and the components with no
  maintaining unit (养护单位) to route to: none named, or a name that matches no unit.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q
from django.utils import timezone

from layers.access import within
from layers.models import Area, Component, Placed, Staff, Tier
from stewardship import duplicates
from stewardship import layers as L
from stewardship.models import Verification

DEFAULT_DAYS = 365
CHILD_TIER = {
    Tier.CITY: Tier.DISTRICT,
    Tier.DISTRICT: Tier.STREET,
    Tier.STREET: Tier.COMMUNITY,
    Tier.COMMUNITY: Tier.CELL,
}
MEASURES = ("unplaced", "outside", "duplicates", "unverified")


@dataclass
class Row:
    area: Area | None  # None: records with no placement at this tier
    layers: dict[str, dict[str, int]] = field(default_factory=dict)
    cells_without_inspector: int = 0
    components_without_maintainer: int = 0

    @property
    def sums(self) -> dict[str, int]:
        """Each measure over all layers."""
        return {m: sum(counts[m] for counts in self.layers.values()) for m in MEASURES}

    @property
    def total(self) -> int:
        return (
            sum(sum(m.values()) for m in self.layers.values())
            + self.cells_without_inspector
            + self.components_without_maintainer
        )


@dataclass
class Report:
    area: Area
    days: int
    rows: list[Row]
    totals: Row


def report(area: Area, *, days: int = DEFAULT_DAYS) -> Report:
    """The report of `area`, one row per child area in force."""
    child_tier = CHILD_TIER.get(Tier(area.tier))
    children = (
        list(
            Area.objects.current()
            .filter(parent=area, tier=child_tier)
            .defer("geom")
            .order_by("code")
        )
        if child_tier
        else []
    )
    group = f"{child_tier}_id" if child_tier else None
    rows = {c.pk: Row(c) for c in children}
    totals = Row(area)
    scope = within(area)
    cutoff = timezone.now() - datetime.timedelta(days=days)
    for name, model in L.MODELS.items():
        records = model._default_manager.all()
        if scope is not True:
            records = records.filter(scope)  # type: ignore[arg-type]
        _layer_counts(name, model, records, group, cutoff, rows, totals, area)
    _cells_without_inspector(area, children, child_tier, rows, totals)
    _components_without_maintainer(scope, group, rows, totals)
    return Report(area, days, list(rows.values()), totals)


def _layer_counts(
    name: str, model: type[Placed], records: Any, group: str | None, cutoff: datetime.datetime,
    rows: dict[int, Row], totals: Row, area: Area,
) -> None:  # fmt: skip
    verified = Verification.objects.filter(
        layer=L.content_type(model), object_id=OuterRef("pk"), at__gte=cutoff
    )
    stale = Q(updated_at__lt=cutoff) & Q(~Exists(verified))
    outside = Q(cell__isnull=False) & (
        Q(cell__valid_to__isnull=False) | ~Q(cell__geom__covers=F("geom"))
    )
    counts = {
        "unplaced": Count("pk", filter=Q(cell__isnull=True)),
        "outside": Count("pk", filter=outside),
        "unverified": Count("pk", filter=stale),
    }
    values = records.values(group) if group else records
    result = values.annotate(**counts) if group else [values.aggregate(**counts)]
    empty = dict.fromkeys(MEASURES, 0)
    totals.layers[name] = dict(empty)
    for row in rows.values():
        row.layers[name] = dict(empty)
    for counted in result:
        target = rows.get(counted.get(group)) if group else None
        for measure in ("unplaced", "outside", "unverified"):
            totals.layers[name][measure] += counted[measure]
            if target is not None:
                target.layers[name][measure] += counted[measure]
    field_for_area = {Tier.DISTRICT: "district_id", Tier.STREET: "street_id"}
    area_field = field_for_area.get(Tier(area.tier), "cell_id" if area.tier == Tier.CELL else None)
    found = duplicates.find(name, area_field=area_field, area_id=area.pk if area_field else None)
    ids = [i for g in found for i in g.ids]
    totals.layers[name]["duplicates"] = len(ids)
    if group and ids:
        per_child = model._default_manager.filter(pk__in=ids).values(group).annotate(n=Count("pk"))
        for counted in per_child:
            target = rows.get(counted[group])
            if target is not None:
                target.layers[name]["duplicates"] = counted["n"]


def _cells_without_inspector(
    area: Area, children: list[Area], child_tier: str | None, rows: dict[int, Row], totals: Row
) -> None:
    cells: Any = _under(Area.objects.current().filter(tier=Tier.CELL), area)
    cells = cells.filter(~Exists(Staff.cells.through.objects.filter(area_id=OuterRef("pk"))))
    totals.cells_without_inspector = cells.count()
    for child in children:
        rows[child.pk].cells_without_inspector = _under(cells, child).count()


def _under(cells: Any, area: Area) -> Any:
    """Cells under `area`, by their parents' chain (cell → community → street → district)."""
    if area.tier == Tier.CITY:
        return cells
    path = {
        Tier.CELL: "pk",
        Tier.COMMUNITY: "parent_id",
        Tier.STREET: "parent__parent_id",
        Tier.DISTRICT: "parent__parent__parent_id",
    }[Tier(area.tier)]
    return cells.filter(**{path: area.pk})


def _components_without_maintainer(
    scope: object, group: str | None, rows: dict[int, Row], totals: Row
) -> None:
    # A name that matches no unit reaches nobody either (routing needs the unit itself).
    components = Component.objects.filter(maintainer__isnull=True)
    if scope is not True:
        components = components.filter(scope)  # type: ignore[arg-type]
    totals.components_without_maintainer = components.count()
    if group:
        for counted in components.values(group).annotate(n=Count("pk")):
            target = rows.get(counted[group])
            if target is not None:
                target.components_without_maintainer = counted["n"]
