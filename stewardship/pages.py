"""The data administrator's pages beside 基础数据 (map_ui's data page): the review queue of
proposals (采集建议审核) and the data-quality report (数据质量)."""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from layers.access import is_superuser, staff_of
from map_ui.pages.roles import pages_for
from stewardship import quality, services
from stewardship.api import _days, _report_area
from stewardship.errors import CaseError


def _reviewer(request: HttpRequest) -> None:
    if not services.is_reviewer(request.user):
        raise PermissionDenied


def _context(request: HttpRequest, title: str, config: Mapping[str, object]) -> dict[str, object]:
    return {
        "pages": pages_for(request.user),
        "page_name": "data",
        "page_title": title,
        "page_config": {"csrf": get_token(request), **config},
    }


@login_required
def review(request: HttpRequest) -> HttpResponse:
    """The review queue: the rows come from the API (the script renders them), the texts
    from the page config."""
    _reviewer(request)
    config = {
        "api": reverse("stewardship-proposals"),
        "texts": {
            "accept": _("采纳"),
            "reject": _("驳回"),
            "reason": _("驳回原因"),
            "reason_required": _("请填写驳回原因。"),
            "empty": _("没有待审核的采集建议。"),
            "new_record": _("新增"),
            "change": _("修改记录 #%(id)s"),
            "photo": _("照片"),
            "position": _("位置（经度, 纬度）："),
            "failed": _("操作失败："),
            "accepted": _("已采纳"),
            "rejected": _("已驳回"),
        },
    }
    return render(request, "stewardship/review.html", _context(request, _("采集建议审核"), config))


@login_required
def quality_page(request: HttpRequest) -> HttpResponse:
    staff = staff_of(request.user)
    if not is_superuser(request.user) and (staff is None or staff.role != "data_admin"):
        raise PermissionDenied
    try:
        area = _report_area(request.user, request.GET.get("area"))
        days = _days(request.GET.get("days"))
    except CaseError as error:
        raise Http404(error.message) from None
    result = quality.report(area, days=days)
    context = _context(request, _("数据质量"), {})
    names = _layer_names()
    per_layer = [
        {"name": names[layer], "counts": [counts[m] for m in quality.MEASURES]}
        for layer, counts in result.totals.layers.items()
    ]
    context.update(
        report=result,
        per_layer=per_layer,
        rows=[_row(r) for r in result.rows],
        totals=_row(result.totals),
    )
    return render(request, "stewardship/quality.html", context)


def _row(row: quality.Row) -> dict[str, object]:
    return {
        "area": row.area,
        "counts": [row.sums[m] for m in quality.MEASURES],
        "cells": row.cells_without_inspector,
        "components": row.components_without_maintainer,
    }


def _layer_names() -> dict[str, str]:
    from stewardship import layers as L

    return {name: str(model._meta.verbose_name_plural) for name, model in L.MODELS.items()}
