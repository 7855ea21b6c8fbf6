"""What the map draws beside the vector tiles, as small JSON answers in the user's language:

- labels(): the names of the areas in view, one tier per zoom band (districts at city
  zoom, streets at district zoom, communities, then cells when zoomed in), at their
  label points;
- stacks(): open cases that lie on top of each other at a zoom (within STACK_PX screen
  pixels), one group per spot with its count, for a numbered cluster;
- info(): the facts of one clicked feature (cell, area, component, entity, case) as
  rows of (label, value), for its popup.

Each is scoped like the tiles: areas are the shared frame, base layers by
layers.access.record_scope, cases by incidents.access.case_scope.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.gis.db.models.functions import PointOnSurface
from django.contrib.gis.geos import Polygon
from django.db import connection
from django.utils.translation import gettext as _

from incidents.access import case_scope
from incidents.models import FINAL_STATES, State
from incidents.models import Case as CaseModel
from layers.access import apply_scope, record_scope, visible_areas
from layers.models import Area, Component, ComponentState, EntityStatus, LegalEntity, Tier
from layers.models.areas import in_language

if TYPE_CHECKING:
    from layers.access import AnyUser

# The tier labelled at a zoom: (lowest zoom, tier), highest first.
LABEL_TIERS = ((16, Tier.CELL), (14, Tier.COMMUNITY), (12, Tier.STREET), (0, Tier.DISTRICT))
LABELS_MAX = 400  # labels in one answer; more would cover the view anyway
STACK_PX = 12  # cases closer than this on screen are one numbered cluster
STACK_MIN_ZOOM = 13  # below it the tiles count cases per community
STACKS_MAX = 500
INFO_LAYERS = ("areas", "cells", "components", "entities", "cases")


def label_tier(z: int) -> str:
    return next(tier for min_zoom, tier in LABEL_TIERS if z >= min_zoom)


def bbox(text: str) -> Polygon | None:
    """west,south,east,north in GRID_SRID degrees; None when it is not four numbers in
    range with west < east and south < north."""
    try:
        w, s, e, n = (float(part) for part in text.split(","))
    except ValueError:
        return None
    if not all(math.isfinite(v) for v in (w, s, e, n)):
        return None
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        return None
    return Polygon.from_bbox((w, s, e, n))


def labels(user: AnyUser, z: int, box: Polygon) -> list[dict[str, Any]]:
    tier = label_tier(z)
    box.srid = settings.GRID_SRID
    rows = (
        visible_areas(user, Area.objects.current())
        .filter(tier=tier, geom__bboverlaps=box)
        .annotate(point=PointOnSurface("geom"))
        .order_by("code")
        .values("id", "code", "name", "name_en", "point")[:LABELS_MAX]
    )
    return [
        {
            "id": row["id"],
            "tier": tier,
            "code": row["code"],
            "name": in_language(row["name"], row["name_en"]),
            "point": [round(row["point"].x, 6), round(row["point"].y, 6)],
        }
        for row in rows
        if box.contains(row["point"])
    ]


def stacks(user: AnyUser, z: int, box: Polygon) -> list[dict[str, Any]]:
    """Groups of two or more open cases within STACK_PX pixels of each other at zoom
    `z` (snapped to a grid of that size): their mean point, count and ids (up to 20)."""
    scope = case_scope(user)
    if scope is False or z < STACK_MIN_ZOOM:
        return []
    box.srid = settings.GRID_SRID
    rows = apply_scope(
        CaseModel.objects.exclude(state__in=FINAL_STATES).filter(geom__bboverlaps=box), scope
    )
    inner, params = rows.values("id", "geom").order_by().query.sql_with_params()
    size = 360.0 / (256 * 2**z) * STACK_PX  # degrees of longitude per STACK_PX at z
    sql = (
        "SELECT ST_X(ST_Centroid(ST_Collect(q.geom))), ST_Y(ST_Centroid(ST_Collect(q.geom))), "
        "count(*), (array_agg(q.id ORDER BY q.id))[1:20] "
        f"FROM ({inner}) q GROUP BY ST_SnapToGrid(q.geom, %s) HAVING count(*) > 1 "
        "ORDER BY count(*) DESC LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, (*params, size, STACKS_MAX))
        found = cursor.fetchall()
    return [
        {"point": [round(x, 6), round(y, 6)], "count": count, "ids": list(ids)}
        for x, y, count, ids in found
    ]


def info(user: AnyUser, layer: str, pk: int) -> dict[str, Any] | None:
    """{"title", "rows": [[label, value], …]} of a feature the user may see, else None."""
    if layer in ("areas", "cells"):
        return _area(user, pk)
    if layer == "components":
        return _component(user, pk)
    if layer == "entities":
        return _entity(user, pk)
    if layer == "cases":
        return _case(user, pk)
    return None


def _name(area: Area | None) -> str:
    return area.display_name if area is not None else "—"


def _area(user: AnyUser, pk: int) -> dict[str, Any] | None:
    area = visible_areas(user, Area.objects.select_related("parent")).filter(pk=pk).first()
    if area is None:
        return None
    rows = [[_("编码"), area.code], [_("名称"), area.display_name]]
    if area.tier == Tier.CELL:
        rows.append([_("所属社区"), _name(area.parent)])
        inspectors = sorted(
            staff.user.get_full_name() or staff.user.get_username()
            for staff in area.inspectors.select_related("user")
        )
        rows.append([_("网格员"), "、".join(inspectors) or _("未配置")])
    elif area.parent is not None and area.parent.tier != Tier.CITY:
        rows.append([_("上级区域"), _name(area.parent)])
    return {"title": f"{Tier(area.tier).label} {area.display_name}", "rows": rows}


def _component(user: AnyUser, pk: int) -> dict[str, Any] | None:
    scope = record_scope(user)
    found = apply_scope(Component.objects.select_related("category"), scope).filter(pk=pk)
    component = found.first() if scope is not False else None
    if component is None:
        return None
    category = component.category
    return {
        "title": _("部件") + " " + component.code,
        "rows": [
            [_("编码"), component.code],
            [_("类别"), in_language(category.name, category.name_en)],
            [_("主管部门"), component.competent_unit or "—"],
            [_("权属单位"), component.owner_unit or "—"],
            [_("养护单位"), component.maintainer_unit or "—"],
            [_("状态"), ComponentState(component.state).label],
        ],
    }


def _entity(user: AnyUser, pk: int) -> dict[str, Any] | None:
    scope = record_scope(user)
    entity = apply_scope(LegalEntity.objects.all(), scope).filter(pk=pk).first()
    if scope is False or entity is None:
        return None
    return {
        "title": entity.name,
        "rows": [
            [_("统一社会信用代码"), entity.credit_code],
            [_("单位类型"), entity.entity_type or "—"],
            [_("状态"), EntityStatus(entity.status).label],
        ],
    }


def _case(user: AnyUser, pk: int) -> dict[str, Any] | None:
    scope = case_scope(user)
    case = apply_scope(CaseModel.objects.select_related("category"), scope).filter(pk=pk).first()
    if scope is False or case is None:
        return None
    category = case.category
    if case.due_at is None:
        deadline = _("未计时")
    elif case.overdue:
        deadline = _("超期")
    elif case.warned:
        deadline = _("预警")
    else:
        deadline = _("正常")
    return {
        "title": _("案件") + f" #{case.pk}",
        "rows": [
            [_("类别"), in_language(category.name, category.name_en)],
            [_("状态"), State(case.state).label],
            [_("处置时限"), deadline],
        ],
        "case": case.pk,
    }
