"""Pages of the command centres and street offices: the command map, the street
dispatch board and the evaluation tables.

The views give the page's script what it needs and nothing of anybody else's: the case
API's addresses (the API scopes every answer), the tile URLs of the user's layers, the
live map's address with the sequence number the page is as new as, the user's own area
and unit, and the labels in the user's language. The scripts are ES modules: cases.js
(shared: case markers, tiles, counters), casepanel.js (the case panel of every role
page), command.js, street.js and evaluation.js.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import folium
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from dispatch.calendar import office_hours
from dispatch.evaluation import Period
from dispatch.models import ExtensionKind
from dispatch.transitions import TRANSITIONS
from gridmgmt import clock
from incidents.models import Satisfaction, State
from incidents.outbox import last_seq
from layers.access import staff_of
from layers.models import Area, Category, Tier, Unit
from map_ui.pages.views import own_area, page
from map_ui.tiles import tile_urls

# The street board's queues: (key, title, states). "overdue" is every open case past
# its deadline, whatever its state, so a case can be in two queues.
QUEUES: list[tuple[str, Promise, list[State]]] = [
    ("new", _("新案件"), [State.REPORTED, State.FILED, State.RETURNED]),
    ("to_sign", _("待签收"), [State.DISPATCHED, State.REWORK]),
    ("in_progress", _("处置中"), [State.SIGNED, State.SUSPENDED]),
    ("awaiting_verification", _("待核查"), [State.HANDLED, State.VERIFIED]),
    ("overdue", _("已超期"), []),
]


@login_required
def command(request: HttpRequest) -> HttpResponse:
    config = {
        **_common(request),
        "units": _units(request),
        "categories": subcategories(),
        "labels": {**_case_labels(), **_command_labels(), **_board_labels()},
        # 巡查: inspectors on duty (onduty.js); the API answers only those the user
        # supervises (patrol.access).
        "on_duty": {
            "url": reverse("patrol-on-duty"),
            "every_seconds": 10,
            "labels": {"last_fix": _("最近定位：")},
        },
    }
    return page(request, "command", "map_ui/command.html", config, _area_outline(request))


@login_required
def street(request: HttpRequest) -> HttpResponse:
    config = {
        **_common(request),
        "queues": [
            {"key": key, "title": title, "states": [str(s) for s in states]}
            for key, title, states in QUEUES
        ],
        "units": _units(request),
        "categories": subcategories(),
        "labels": {**_case_labels(), **_command_labels(), **_board_labels()},
    }
    return page(request, "street", "map_ui/street.html", config, _area_outline(request))


@login_required
def evaluation(request: HttpRequest) -> HttpResponse:
    period = Period.month_of(clock.localdate())  # the API's default period too
    streets = _street_outlines(request)
    config = {
        "api": {
            "evaluation": reverse("evaluation", kwargs={"by": "street"}),
            # The per-cell table: cells with cases only, in pages (evaluation.js).
            "cells": reverse("evaluation", kwargs={"by": "cell"}),
        },
        "cell_page_size": 50,
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
        "outlines": streets.get_name(),
        "labels": _evaluation_labels(),
    }
    return page(request, "evaluation", "map_ui/evaluation.html", config, layers=[streets])


def _common(request: HttpRequest) -> dict[str, Any]:
    """What the command map and the street board share."""
    staff = staff_of(request.user)
    area = own_area(request.user)
    return {
        "api": {
            "cases": reverse("cases-list"),
            "board": reverse("cases-board"),
            "awaiting": reverse("cases-list") + "?awaiting=me&limit=200",
        },
        "tiles": tile_urls(request.user),
        "tiles_urls": reverse("map_tiles:urls"),
        # The page's data is loaded after this number was read: the live map resumes
        # from it, so nothing that commits between rendering and connecting is lost.
        "live": {"url": "/ws/live/", "since": last_seq()},
        "scope": {
            "area": area.code if area is not None else None,
            "area_name": area.display_name if area is not None else None,
            "unit": staff.unit_id if staff is not None else None,
            "role": staff.role if staff is not None else None,
        },
        "work_day_hours": work_day_hours(),
        # 巡查覆盖: the day's patrol coverage per cell as a layer (coverage.js); the API
        # answers the cells of the user's area (patrol.access).
        "coverage": {
            "url": reverse("patrol-coverage"),
            "labels": {
                "title": _("巡查覆盖"),
                "minutes": _("分钟"),
                "summary": _("已巡查 %(visited)s / %(cells)s 个网格"),
                "cell": _("巡查 %(minutes)s 分钟 · %(km)s 公里 · %(inspectors)s 人"),
                "not_visited": _("未巡查的网格不标注"),
                "loading": _("正在加载…"),
                "load_error": _("加载失败："),
            },
        },
    }


def work_day_hours() -> float:
    """The office hours of one working day: an extension asked in days is sent in hours."""
    total = sum(
        (
            dt.datetime.combine(dt.date.min, closes) - dt.datetime.combine(dt.date.min, opens)
            for opens, closes in office_hours()
        ),
        dt.timedelta(),
    )
    return max(total.total_seconds() / 3600, 1.0)


def subcategories() -> list[dict[str, Any]]:
    """The active subcategories, for the split form's child cases (拆分, casepanel.js)."""
    found = Category.objects.filter(active=True).exclude(minor_code="")
    return [
        {"id": c.pk, "code": c.code, "name": c.display_name}
        for c in found.order_by("kind", "major_code", "minor_code")
    ]


def _units(request: HttpRequest) -> list[dict[str, Any]]:
    """The units a case of the user's area may be (re-)dispatched to, for the unit picker:
    those of the area and the city-wide ones, no higher than the user's own tier. The
    page offers a case only the units whose area holds it; the service decides."""
    staff = staff_of(request.user)
    units = Unit.objects.select_related("area").order_by("tier", "name")
    area = own_area(request.user)
    if staff is not None and area is not None and area.tier != Tier.CITY:
        units = units.filter(
            Q(area__code__startswith=area.inner_prefix) | Q(area=area) | Q(tier=Tier.CITY)
        )
    rank = TIER_ORDER.index(Tier(staff.unit.tier)) if staff is not None else len(TIER_ORDER)
    return [
        {
            "id": unit.pk,
            "name": unit.display_name,
            "area": unit.area_id,
            "citywide": unit.area.tier == Tier.CITY,
        }
        for unit in units
        if TIER_ORDER.index(Tier(unit.tier)) <= rank
    ]


TIER_ORDER = [Tier.CELL, Tier.COMMUNITY, Tier.STREET, Tier.DISTRICT, Tier.CITY]


def _street_outlines(request: HttpRequest) -> folium.GeoJson:
    """The streets of the user's area as one GeoJSON layer (simplified: a choropleth
    needs the shape, not the survey), styled by the page's script from the figures."""
    area = own_area(request.user)
    streets = Area.objects.current().filter(tier=Tier.STREET)
    if area is not None:
        streets = streets.filter(code__startswith=area.inner_prefix)
    features = [
        {
            "type": "Feature",
            "properties": {"code": street.code, "name": street.display_name},
            "geometry": _simplified(street),
        }
        for street in streets.order_by("code")
    ]
    collection = {"type": "FeatureCollection", "features": features}
    return folium.GeoJson(
        collection,
        name=str(_("街道")),
        style_function=lambda feature: {"color": "#44546a", "weight": 1, "fillOpacity": 0.1},
    )


def _simplified(area: Area) -> dict[str, Any]:
    """The area's outline as GeoJSON, simplified to about 20 m: enough for a page map."""
    return json.loads(area.geom.simplify(0.0002, preserve_topology=True).geojson)  # type: ignore[no-any-return]


def _area_outline(request: HttpRequest) -> list[folium.GeoJson]:
    """The outline of the user's own area (none for a city-wide post: the city is the map)."""
    area = own_area(request.user)
    if area is None or area.tier == Tier.CITY:
        return []
    outline = folium.GeoJson(
        {
            "type": "Feature",
            "properties": {"name": area.display_name},
            "geometry": _simplified(area),
        },
        name=str(_("辖区范围")),
        style_function=lambda feature: {"color": "#123b63", "weight": 3, "fill": False},
        interactive=False,
    )
    return [outline]


def _case_labels() -> dict[str, Any]:
    return {
        "states": {value: label for value, label in State.choices},
        # History entries name their action: the workflow's, and the two intakes.
        "actions": {
            "report": _("网格员上报"),
            "ticket": _("热线受理"),
            "merge_in": _("并入重复案件"),
            # The deadline worker's entries (dispatch.sla); its 督办 is the table's.
            "warning": _("超期预警"),
            "overdue": _("超期催办"),
            # 12345 work orders (dispatch.hotline, dispatch.services.case_callback).
            "reply_overdue": _("答复超期"),
            "callback_overdue": _("回访超期"),
            "reopen": _("重办"),
            "split_from": _("拆分自"),
            # 协办 and 核查时限 (dispatch.services, dispatch.sla).
            "co_dispatch": _("派给协办单位"),
            "verify_warning": _("核查预警"),
            "verify_overdue": _("核查超期"),
            **{name: t.label for name, t in TRANSITIONS.items()},
        },
        "deadline": {
            "on_time": _("正常"),
            "warning": _("预警"),
            "overdue": _("超期"),
            "none": _("未计时"),
        },
        "case": _("案件"),
        "loading": _("正在加载…"),
        "load_error": _("加载失败，请重试。"),
        "due": _("处置时限"),
        "unit": _("责任单位"),
        "category": _("类别"),
        "place": _("位置"),
        "escalated": _("督办"),
        "urgent": _("紧急"),
        "none": _("无"),
        "panel": _panel_labels(),
    }


def _panel_labels() -> dict[str, Any]:
    """The words of casepanel.js (the case panel of every role page)."""
    return {
        "description": _("问题描述"),
        "address": _("地址"),
        "reported_at": _("上报时间"),
        "beyond_calendar": _("时限超出工作日历，未计入节假日，请核实"),
        "photos": _("现场照片"),
        "history": _("办理经过"),
        "extension": _("待审批的延期/缓办申请"),
        "supervisions": _("督办要求"),
        "supervise_due": _("限期"),
        "parts": _("协办单位"),
        "part_open": _("未完成"),
        "verify_due": _("核查时限"),
        "verify_overdue": _("核查已超期"),
        "children": _("子案件"),
        "parent": _("拆分自案件"),
        "by": _("提出"),
        "no_actions": _("此案件当前无需您办理。"),
        "done": _("已办理"),
        "changed": _("案件已被他人更新，已刷新为最新状态。"),
        "gone": _("此案件已不在您的办理范围内。"),
        "enlarge": _("点击查看大图"),
        "close": _("关闭"),
        "form": {
            "note": _("意见"),
            "notes": {"handle": _("办理情况"), "co_handle": _("协办办理情况")},
            "co_units": _("协办单位（可多选）"),
            "children": _("子案件（每个部门或小类一件）"),
            "child_category": _("小类"),
            "child_unit": _("派遣给"),
            "child_description": _("子案件描述（空：同原案件）"),
            "add_child": _("再加一件"),
            "reason": _("理由"),
            "photos": _("处置照片（可拍照）"),
            "kind": _("类型"),
            "kinds": {value: label for value, label in ExtensionKind.choices},
            "days": _("延期天数（工作日）"),
            "unit": _("单位编号"),
            "pick_unit": _("改派给"),
            "choose_unit": _("请选择单位"),
            "dispatch_to": _("派遣给"),
            "by_rules": _("按派遣规则自动派遣"),
            "due_at": _("督办期限"),
            "into": _("案件编号"),
            "merge_into": _("合并到哪件案件（附近可能重复的案件）"),
            "no_duplicates": _("附近没有可能重复的案件，请输入案件编号。"),
            "reply": _("答复来电人"),
            "outcome": _("回访结果"),
            "outcomes": {
                **{value: str(label) for value, label in Satisfaction.choices},
                "not_reached": _("未接通"),
            },
            "send": _("提交"),
            "cancel": _("取消"),
            "confirm_question": {
                "cancel": _("确定注销此案件吗？注销后不再办理。"),
                "merge": _("确定将此案件合并到所选案件吗？此案件随之结束。"),
                "redispatch": _("确定改派此案件吗？处置时限将重新计算。"),
                "supervise": _("确定督办吗？责任单位将立即收到。"),
            },
        },
    }


def _command_labels() -> dict[str, Any]:
    return {
        "layers": {
            "areas": _("行政区划"),
            "cells": _("网格"),
            "components": _("部件"),
            "entities": _("法人单位"),
            "population": _("人口密度"),
            "cases": _("案件"),
            "live": _("实时案件"),
            "on_duty": _("在岗网格员"),
            "coverage": _("巡查覆盖"),
        },
        "live": {
            "connecting": _("正在连接实时推送…"),
            "open": _("实时推送已连接"),
            "degraded": _("实时推送暂时延迟：服务器消息通道中断，恢复后自动补齐。"),
            "closed": _("实时推送已断开，正在重连…"),
            "denied": _("无法接收实时推送，请重新登录。"),
        },
        "attention_empty": _("没有超期或督办的案件。"),
        "awaiting_empty": _("没有待您决定的案件。"),
        "extension_request": _("延期/缓办申请"),
    }


def _board_labels() -> dict[str, Any]:
    return {
        "queue_empty": _("此队列没有案件。"),
        "done": _("已办理"),
    }


def _evaluation_labels() -> dict[str, Any]:
    return {
        "street": _("街道"),
        "due": _("应结案数"),
        "closed": _("结案数"),
        "closed_on_time": _("按期结案数"),
        "overdue": _("超期数"),
        "on_time_rate": _("按期结案率"),
        "close_rate": _("结案率"),
        "total": _("合计"),
        "no_rate": _("无应结案件"),
        "loading": _("正在加载…"),
        "load_error": _("加载失败，请重试。"),
        "cell": _("网格"),
        "page_status": _("第 %(page)s / %(pages)s 页，共 %(count)s 个网格"),
        "no_cells": _("本期没有有案件的网格。"),
    }
