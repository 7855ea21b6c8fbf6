"""The decision analysis page (/map/analysis/): the filters, the trend chart (Apache
ECharts, served from the project's static files), the hot-spot layer on the map, and the
lists of top categories, recurring spots and cases at risk, each with its exports. The
page's script (analysis/static/analysis/analysis.js) reads everything from
GET /api/analysis/{view}/."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from analysis.api import DEFAULT_DAYS, VIEWS
from layers.models import Category
from map_ui.pages.views import page


@login_required
def analysis(request: HttpRequest) -> HttpResponse:
    config = {
        "api": {view: reverse("analysis", kwargs={"view": view}) for view in VIEWS},
        "default_days": DEFAULT_DAYS,
        "classes": _classes(),
        "labels": _labels(),
    }
    return page(request, "analysis", "analysis/analysis.html", config)


def _classes() -> list[dict[str, Any]]:
    """The catalogue's major classes, each with its categories, for the two pickers."""
    rows = Category.objects.filter(active=True).order_by("kind", "major_code", "minor_code")
    majors: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        key = (row.kind, row.major_code)
        if not row.minor_code:
            name = f"{row.get_kind_display()} {row.code} {row.display_name}"
            majors[key] = {"id": row.pk, "name": name, "categories": []}
        elif key in majors:
            majors[key]["categories"].append(
                {"id": row.pk, "name": f"{row.code} {row.display_name}"}
            )
    return list(majors.values())


def _labels() -> dict[str, str]:
    return {
        "loading": _("正在加载…"),
        "load_error": _("加载失败："),
        "received": _("上报数"),
        "close_rate": _("结案率"),
        "on_time_rate": _("按期结案率"),
        "cases": _("案件数"),
        "cells": _("有案件的网格 %(cells)s 个，案件 %(cases)s 件"),
        "cells_cut": _("地图只显示案件最多的 %(limit)s 个网格"),
        "none": _("没有符合条件的记录。"),
        "show": _("在地图上查看"),
        "hours_left": _("剩余 %(hours)s 小时"),
        "recurring": _("%(days)s 天内 %(times)s 次"),
        "hotspot": _("%(name)s：%(cases)s 件"),
    }
