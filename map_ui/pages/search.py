"""案件查询: the case search page of every staff post.

A form with the filters of GET /api/cases/ (text or id, category, area, states, days of
creation), the results paged, a case's details with its history and photos, the exports
(/api/cases/export.csv|.xlsx with the same filters) and the user's saved searches
(/api/saved-filters/). The API scopes every answer; the page only asks. Script: search.js.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from dispatch.api.export import max_rows
from incidents.models import Source, State
from layers.models import Area, Tier
from map_ui.pages.command import _case_labels
from map_ui.pages.handler import panel_labels, work_day_hours
from map_ui.pages.intake import _categories
from map_ui.pages.roles import may_open, pages_for
from map_ui.pages.views import own_area

PAGE_SIZE = 20


@login_required
def search(request: HttpRequest) -> HttpResponse:
    if not may_open(request.user, "search"):
        raise PermissionDenied
    pages = pages_for(request.user)
    config = {
        "csrf": get_token(request),
        "api": {
            "cases": "/api/cases/",
            "export": "/api/cases/export.",
            "saved": "/api/saved-filters/",
        },
        "page_size": PAGE_SIZE,
        "export_max_rows": max_rows(),
        "work_day_hours": work_day_hours(),
        "labels": {**_case_labels(), **panel_labels(), **_search_labels()},
    }
    context = {
        "map": None,
        "pages": pages,
        "page_name": "search",
        "page_title": next(p.title for p in pages if p.name == "search"),
        "page_config": config,
        "categories": _categories(request),
        "areas": _areas(request),
        "states": State.choices,
        "sources": Source.choices,
    }
    return render(request, "map_ui/search.html", context)


def _areas(request: HttpRequest) -> list[dict[str, Any]]:
    """The districts and streets the user may pick: those of their own area (all of the
    city for a city-wide post)."""
    own = own_area(request.user)
    areas = Area.objects.current().filter(tier__in=[Tier.DISTRICT, Tier.STREET]).defer("geom")
    if own is not None and own.tier == Tier.STREET:
        areas = areas.filter(pk=own.pk)
    elif own is not None and own.tier == Tier.DISTRICT:
        areas = areas.filter(pk=own.pk) | areas.filter(parent=own)
    return [
        {"code": a.code, "name": a.display_name, "street": a.tier == Tier.STREET}
        for a in areas.order_by("code")
    ]


def _search_labels() -> dict[str, Any]:
    return {
        "results": _("共 %(count)s 件"),
        "no_results": _("没有符合条件的案件。"),
        "previous": _("上一页"),
        "next": _("下一页"),
        "page": _("第 %(page)s / %(pages)s 页"),
        "saved_none": _("还没有保存的查询。"),
        "saved": _("已保存。"),
        "apply": _("应用"),
        "delete": _("删除"),
        "delete_confirm": _("删除保存的查询「%(name)s」？"),
        "back": _("返回列表"),
        "too_many": _("共 %(count)s 件，超过一次导出的上限 %(limit)s 件；请缩小查询范围。"),
    }
