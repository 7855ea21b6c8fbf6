"""Intake pages: the 12345 hotline's ticket form and the inspector's phone page.

Both pages submit through the case API (/api/cases/tickets/, /api/cases/reports/); the
views here only give the page's script what it needs: API addresses, the catalogue's
subcategories, the tile URLs of the administrative outlines and the labels in the
user's language.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import IntegerField, Model
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from incidents.models import Channel, ReplyTerm, Satisfaction, State, TicketType
from layers.access import staff_of, visible_categories
from layers.models import Category
from map_ui.pages.views import page
from map_ui.tiles import tile_urls
from stewardship import layers as steward_layers


@login_required
def hotline(request: HttpRequest) -> HttpResponse:
    config = {
        "api": {
            "geocode": reverse("geocode"),
            "tickets": reverse("cases-tickets"),
            "duplicates": reverse("cases-duplicates-near"),
            "cases": reverse("cases-list"),
            "locate": reverse("geocode-locate"),
            "areas": reverse("geocode-areas"),
        },
        # A candidate scored below this is uncertain: confirmed by hand before filing.
        "uncertain_score": settings.HOTLINE_UNCERTAIN_SCORE,
        "categories": _categories(request),
        "channels": [
            {"value": v, "label": str(label)} for v, label in Channel.choices if v != "app"
        ],
        "states": {value: str(label) for value, label in State.choices},
        # 12345 work orders: the type (咨询 …) and the reply term (empty: the type's).
        "ticket_types": [{"value": v, "label": str(label)} for v, label in TicketType.choices],
        "reply_terms": [{"value": v, "label": str(label)} for v, label in ReplyTerm.choices],
        "tiles": tile_urls(request.user),
        "labels": _hotline_labels(),
    }
    return page(request, "hotline", "map_ui/hotline.html", config)


@login_required
def inspector(request: HttpRequest) -> HttpResponse:
    config = {
        "api": {"reports": reverse("cases-reports"), "cases": reverse("cases-list")},
        "user": request.user.get_username(),
        "categories": _categories(request),
        "tiles": tile_urls(request.user),
        "labels": _inspector_labels(),
        "states": {value: str(label) for value, label in State.choices},
        "max_photos": settings.CASE_PHOTO_MAX_COUNT,  # what the report API accepts
        "service_worker": reverse("map_ui:inspector-worker"),
        "cells": _own_cells(request),
        "patrol": _patrol(request),
        "collect": _collect(),
    }
    return page(request, "inspector", "map_ui/inspector.html", config)


# 一级采集 from the phone: the layers an inspector collects (人, 法人, 部件, 建筑物).
# Each with the route of its records in the layers API (layers/api/urls.py).
COLLECTED = {
    "components": "component",
    "entities": "entity",
    "population": "person",
    "buildings": "building",
}


def _collect() -> dict[str, Any]:
    """一级采集 on the phone (collect.js): the proposals API, each collected layer with the
    fields a person may change (as stewardship.services.apply accepts them), named as the
    interface names them, and the texts."""
    return {
        "api": reverse("stewardship-proposals"),
        "layers": [
            {
                "name": name,
                "label": str(steward_layers.MODELS[name]._meta.verbose_name),
                "fields": [
                    _collect_field(steward_layers.MODELS[name], field)
                    for field in steward_layers.FIELDS[name]
                ],
                # Its records on the map's view (bbox): the one to change is picked there.
                "records": reverse(f"layers-{route}-list"),
            }
            for name, route in COLLECTED.items()
        ],
        "labels": {
            "choose": _("请选择"),
            "layer_required": _("请选择采集类型。"),
            "fields_required": _("请填写带 * 的字段。"),
            "record_number": _("记录编号应为数字。"),
            "no_position": _("尚未取得定位：请开启定位，或在地图上点选位置。"),
            "photo": _("照片"),
            "new_record": _("新增"),
            "change": _("修改记录"),
            "record": _("记录"),
            "proposal": _("采集建议"),
            "reason": _("驳回原因："),
            "queued": _("等待网络，恢复后自动发送"),
            "sending": _("正在发送…"),
            "failed": _("未被受理："),
            "retry": _("重试"),
            "discard": _("丢弃"),
            "discard_confirm": _("丢弃这条采集？"),
            "none": _("暂无采集。"),
            "new_choice": _("新增记录"),
            "nearby_none": _("地图范围内没有这类记录。"),
            "nearby_error": _("附近记录加载失败，可填写记录编号。"),
        },
    }


def _collect_field(model: type[Model], name: str) -> dict[str, Any]:
    field = model._meta.get_field(name)
    choices = getattr(field, "choices", None)
    return {
        "name": name,
        "label": str(getattr(field, "verbose_name", name)),
        "required": not getattr(field, "blank", True),
        "type": "number" if isinstance(field, IntegerField) else "text",
        "choices": [[value, str(label)] for value, label in choices] if choices else None,
    }


def _patrol(request: HttpRequest) -> dict[str, Any]:
    """巡查 on the phone (patrol.js): the duty and positions APIs, how often fixes are
    sent, and its texts."""
    return {
        "duty": reverse("patrol-duty"),
        "positions": reverse("patrol-positions"),
        "user": request.user.pk,
        "batch_seconds": 5,
        "labels": {
            "go_on": _("上岗"),
            "go_off": _("下岗"),
            "on_duty": _("巡查中"),
            "off_duty": _("未上岗"),
            "pending": _("待发送："),
            "rejected": _("未被接收的定位点："),
            "refused": _("未被受理："),
        },
    }


def _own_cells(request: HttpRequest) -> dict[str, Any]:
    """The inspector's own grid cells as GeoJSON (WGS 84, the map's datum): drawn on the
    map so that the inspector sees where their beat ends."""
    staff = staff_of(request.user)
    cells = list(staff.cells.all()) if staff else []
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": json.loads(cell.geom.geojson),
                "properties": {"code": cell.code, "name": cell.display_name},
            }
            for cell in cells
        ],
    }


# The worker's cache: the number is bumped when its caching changes, and caches of the
# same prefix with another number are dropped on activation.
WORKER_CACHE_PREFIX = "gridmgmt-inspector"
WORKER_CACHE = f"{WORKER_CACHE_PREFIX}-1"


@require_safe
def inspector_worker(request: HttpRequest) -> HttpResponse:
    """The inspector page's service worker, served beside the page so that its scope is
    the page (a script under /static/ could not control it). No login: it is code."""
    config = {
        "cache": WORKER_CACHE,
        "prefix": WORKER_CACHE_PREFIX,
        "page": reverse("map_ui:inspector"),
        "cases": reverse("cases-list"),
        "static": static(""),
    }
    context = {"config": json.dumps(config)}
    response = render(
        request, "map_ui/inspector-sw.js", context, content_type="text/javascript; charset=utf-8"
    )
    patch_cache_control(response, no_cache=True)  # a new release reaches phones at once
    return response


def _categories(request: HttpRequest) -> list[dict[str, Any]]:
    """The active subcategories, in catalogue order, each with its major class's name:
    the picker groups them by class. Names in English when the page is."""
    rows = visible_categories(request.user, Category.objects.filter(active=True)).order_by(
        "kind", "major_code", "minor_code"
    )
    majors = {(c.kind, c.major_code): c for c in rows if c.is_major}  # one query: rows is cached
    return [
        {
            "id": c.pk,
            "code": c.code,
            "name": c.display_name,
            "urgent": c.urgent_by_default,
            "group": f"{c.get_kind_display()} {c.major_code} "
            + (
                majors[c.kind, c.major_code].display_name
                if (c.kind, c.major_code) in majors
                else ""
            ),
        }
        for c in rows
        if not c.is_major
    ]


def _hotline_labels() -> dict[str, Any]:
    return {
        "searching": _("正在查找…"),
        "no_candidates": _("没有找到匹配的标准地址；可在地图上点选位置。"),
        "candidate_score": _("匹配度"),
        "picked_address": _("已选标准地址："),
        "picked_point": _("地图选点："),
        "no_place": _("尚未确定位置：请选择候选地址，或在地图上点选。"),
        "required": _("请填写地址、分类和问题描述。"),
        "duplicates_none": _("附近没有同类未结案件。"),
        "duplicates_found": _("附近有同类未结案件，可能重复："),
        "metres": _("米"),
        "sending": _("正在提交…"),
        "sent": _("已受理，案件编号："),
        "network_error": _("网络错误，工单未提交，请重试。"),
        "case": _("案件"),
        "uncertain": _("不确定"),
        "confirm_needed": _("该地址匹配度低：请与来电人核实后点“确认此地址”。"),
        "confirmed": _("已确认"),
        "areas_none": _("没有名称相符的街道或社区。"),
        "area_jumped": _("地图已移到%(name)s：请在地图上点选位置。"),
        "locating_point": _("正在查询所在网格…"),
        "point_areas": _("所在区域："),
        "history_none": _("该号码没有以往工单。"),
        "history_found": _("该号码以往的工单："),
        "history_phone_needed": _("请先填写来电号码。"),
        "notify_needs_phone": _("结案短信告知需要填写联系电话。"),
        "no_ticket_type": _("请选择工单类型"),
        "term_by_type": _("按工单类型默认"),
        "ticket_no": _("工单编号："),
        "reply_due": _("答复时限："),
        # The call-back queue (回访): the reply is read out, the outcome recorded.
        "callbacks_none": _("暂无待回访工单。"),
        "callback_reply": _("答复（请向来电人宣读）："),
        "callback_due": _("回访时限："),
        "callback_caller": _("来电人："),
        "callback_tries": _("已拨打%(n)s次"),
        "not_reached": _("未接通"),
        "callback_done": _("已记录回访。"),
        "callback_reopened": _("来电人不满意，案件已重办。"),
        "satisfaction": {v: str(label) for v, label in Satisfaction.choices},
    }


def _inspector_labels() -> dict[str, str]:
    return {
        "locating": _("正在定位…"),
        "located": _("已定位"),
        "accuracy": _("精度"),
        "metres": _("米"),
        "required": _("请选择分类并描述问题。"),
        "no_position": _("尚未取得定位，无法上报；请在室外开启定位后重试。"),
        "position_denied": _("无法取得定位："),
        "queued": _("等待网络，恢复后自动发送"),
        "sending": _("正在发送…"),
        "sent": _("已发送，案件编号："),
        "failed": _("未被受理："),
        "retry": _("重试"),
        "edit": _("修改"),
        "discard": _("丢弃"),
        "discard_confirm": _("丢弃这份上报？"),
        "photos": _("张照片"),
        "too_many_photos": _("最多 %(n)d 张照片。") % {"n": settings.CASE_PHOTO_MAX_COUNT},
        "no_tasks": _("暂无核查任务。"),
        "tasks_error": _("核查任务加载失败。"),
        "handler_report": _("处置反馈"),
        "verify_note": _("核查情况（不通过时必填）"),
        "verify_photos": _("拍核查照片"),
        "verify_pass": _("核查通过"),
        "verify_fail": _("核查不通过"),
        "verify_fail_needs_note": _("核查不通过时，请写明原因。"),
        "verify_offline": _("网络不通，核查未提交；恢复网络后再提交。"),
        "verified": _("核查通过，等待结案。"),
        "sent_back": _("核查不通过，已退回返工。"),
        "likely_duplicates": _("附近可能重复的案件："),
        "case": _("案件"),
        "offline": _("离线"),
        "online": _("在线"),
        "gps_denied": _("定位权限被拒绝。请在地图上点选问题所在位置。"),
        "gps_unavailable": _("暂时无法定位。请在地图上点选问题所在位置。"),
        "tapped": _("已在地图上选定位置"),
        "verify_pass_confirm": _("确认核查通过？案件将等待结案。"),
        "verify_fail_confirm": _("确认核查不通过？案件将退回返工。"),
        "logout_confirm": _("确定退出登录？未发送的上报会保留在本机。"),
        "reports_error": _("我的上报加载失败。"),
        "no_reports": _("暂无上报。"),
        "own_cells": _("我的网格"),
    }
