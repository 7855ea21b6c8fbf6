"""Decision analysis over the API: GET /api/analysis/{view}/ as JSON, CSV or XLSX.

Views: hotspots, trends, categories, recurring, at-risk (analysis.queries has the
definitions, docs/analysis.md the same with examples). Every answer is a table: its
columns (key, header in the user's language, kind) and its rows; the page draws the
charts and the map from it, the exports write it. Only command centres and leaders may
ask (analysis.access); each sees the cases of its own area.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from django.http.response import HttpResponseBase
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis import queries as q
from analysis import tables as t
from analysis.access import may_analyse
from audit.models import Action
from audit.services import audit_record
from dispatch.evaluation import Period, PeriodError
from gridmgmt import clock
from incidents.errors import InvalidInput, NotPermitted
from layers.models import Category, Tier

VIEWS: Final = ("hotspots", "trends", "categories", "recurring", "at-risk")
DEFAULT_DAYS: Final = 30


class AnalysisQuery(serializers.Serializer[Any]):
    start = serializers.DateField(
        required=False,
        help_text="First day (YYYY-MM-DD, Asia/Shanghai); with end. Without both: the last "
        f"{DEFAULT_DAYS} days up to today.",
    )
    end = serializers.DateField(
        required=False, help_text="First day after the period (exclusive); at most 366 days."
    )
    major = serializers.IntegerField(
        required=False, help_text="A major class of the catalogue (id of a Category row "
        "without minor code).",
    )  # fmt: skip
    category = serializers.IntegerField(required=False, help_text="A category id.")
    step = serializers.ChoiceField(
        choices=["day", "week"], default="day", help_text="trends: per day or per week."
    )
    by = serializers.ChoiceField(
        choices=[Tier.DISTRICT, Tier.STREET, Tier.COMMUNITY],
        required=False,
        help_text="categories: the areas (default: one tier below the user's).",
    )
    times = serializers.IntegerField(
        default=3, min_value=2, max_value=100, help_text="recurring: at least this many cases"
    )
    days = serializers.IntegerField(
        default=30, min_value=1, max_value=366, help_text="recurring: within this many days"
    )
    hours = serializers.IntegerField(
        default=24, min_value=1, max_value=720, help_text="at-risk: due within this many hours"
    )
    format = serializers.ChoiceField(choices=["json", "csv", "xlsx"], default="json")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start"), attrs.get("end")
        if start is None and end is None:
            today = timezone.localdate(self.context["now"])
            end = today + dt.timedelta(days=1)
            start = end - dt.timedelta(days=DEFAULT_DAYS)
        elif start is None or end is None:
            missing = "start" if start is None else "end"
            raise serializers.ValidationError({missing: [_("start 和 end 须同时给出。")]})
        try:
            attrs["period"] = Period(start=start, end=end)
        except PeriodError as error:
            raise serializers.ValidationError({"end": [str(error)]}) from None
        attrs["major_row"] = _category(attrs.get("major"), "major", major=True)
        attrs["category_row"] = _category(attrs.get("category"), "category", major=False)
        return attrs


def _category(pk: int | None, field: str, *, major: bool) -> Category | None:
    if pk is None:
        return None
    rows = Category.objects.filter(pk=pk)
    rows = rows.filter(minor_code="") if major else rows.exclude(minor_code="")
    found = rows.first()
    if found is None:
        message = _("没有编号为 %(id)s 的大类。") if major else _("没有编号为 %(id)s 的分类。")
        raise serializers.ValidationError({field: [message % {"id": pk}]})
    return found


class AnalysisView(APIView):
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        # `format` is this endpoint's own parameter (json, csv, xlsx).
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        summary="Decision analysis (决策分析)",
        description="Hot spots per grid cell, trends per day or week by major class with "
        "closure and on-time rates, top categories per area, recurring spots (same cell "
        "and category at least `times` times within `days` days) and open cases due "
        "within `hours` hours. Only the cases the user may see; command centres and "
        "leaders only. Definitions: docs/analysis.md.",
        parameters=[
            OpenApiParameter("view", OpenApiTypes.STR, OpenApiParameter.PATH, enum=VIEWS),
            AnalysisQuery,
        ],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "text/csv"): OpenApiTypes.STR,
            (200, t.XLSX): OpenApiTypes.BINARY,
        },
    )
    def get(self, request: Request, view: str) -> HttpResponseBase:
        if view not in VIEWS:
            message = _("未知的分析 %(view)s；可选：%(choices)s。")
            raise InvalidInput(
                message % {"view": view[:20], "choices": "、".join(VIEWS)}, field="view"
            )
        if not may_analyse(request.user):
            raise NotPermitted(_("决策分析仅供指挥中心和领导使用。"))
        now = clock.now()
        query = AnalysisQuery(data=request.query_params.dict(), context={"now": now})
        query.is_valid(raise_exception=True)
        data = query.validated_data
        filters = q.Filters(
            period=data["period"], major=data["major_row"], category=data["category_row"]
        )
        columns, rows, extra, title = _answer(request, view, filters, data, now)
        fmt = data["format"]
        if fmt == "json":
            return Response(
                {
                    "view": view,
                    "start": filters.period.start,
                    "end": filters.period.end,
                    "columns": [column.as_json() for column in columns],
                    "rows": rows,
                    **extra,
                }
            )
        days = f"{filters.period.start:%Y%m%d}-{filters.period.last_day:%Y%m%d}"
        name, full_title = f"analysis-{view}-{days}", f"{title}_{days}"
        export = t.csv_response if fmt == "csv" else t.xlsx_response
        response = export(columns, rows, name, full_title)
        audit_record(
            action=Action.EXPORT,
            request=request._request,
            user=request.user,
            object_type="analysis",
            object_id=view,
            detail={
                "format": fmt,
                "rows": len(rows),
                "filters": {k: v for k, v in request.query_params.items() if k != "format"},
            },
        )
        return response


Answer = tuple[list[t.Column], list[dict[str, Any]], dict[str, Any], str]


def _answer(
    request: Request, view: str, filters: q.Filters, data: dict[str, Any], now: dt.datetime
) -> Answer:
    user = request.user
    if view == "hotspots":
        found = q.hotspots(user, filters)
        extra: dict[str, Any] = {"cells": found.cells, "cases": found.cases}
        extra["limit"] = q.HOTSPOT_LIMIT
        return t.HOTSPOT_COLUMNS, found.rows, extra, _("案件热点")
    if view == "trends":
        trend = q.trends(user, filters, data["step"])
        classes = [t.Column(f"class_{c['id']}", c["name"], "number") for c in trend.classes]
        columns = [*t.TREND_COLUMNS[:2], *classes, *t.TREND_COLUMNS[2:]]
        extra = {"step": trend.step, "classes": trend.classes}
        return columns, trend.rows, extra, _("案件趋势")
    if view == "categories":
        tier = data.get("by") or q.default_tier(user)
        rows = q.top_categories(user, filters, tier)
        return t.CATEGORY_COLUMNS, rows, {"by": tier, "top": q.TOP_CATEGORIES}, _("高发类别")
    if view == "recurring":
        rows = q.recurring(user, filters, data["times"], data["days"])
        extra = {"times": data["times"], "days": data["days"], "limit": q.RECURRING_LIMIT}
        return t.RECURRING_COLUMNS, rows, extra, _("反复发生点位")
    rows = q.at_risk(user, filters, data["hours"], now)
    extra = {"hours": data["hours"], "limit": q.AT_RISK_LIMIT, "as_of": now}
    return t.AT_RISK_COLUMNS, rows, extra, _("临期案件")


urlpatterns = [path("<str:view>/", AnalysisView.as_view(), name="analysis")]
