"""Evaluation tables (评价) over the API: GET /api/evaluation/{by}/, as JSON, CSV or XLSX.

The view parses the query, asks dispatch.evaluation.evaluate() (which applies the
user's scope) and renders the table. One list of columns per table drives the JSON
fields, the OpenAPI schema and the export headers, so the three never disagree. The
definitions of the figures are in dispatch/evaluation.py and docs/evaluation.md.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast
from urllib.parse import quote
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import FileResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from rest_framework import serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import Action
from audit.services import audit_record
from dispatch.evaluation import (
    AREA_GROUPINGS,
    DEFINITIONS,
    MAX_PERIOD_DAYS,
    By,
    Evaluation,
    Period,
    PeriodError,
    evaluate,
)
from gridmgmt import clock

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# JSON answers are paged: the per-cell table of the city has one row per cell with cases
# (~20,000 for a year). A page of 500 holds every district and street table whole.
PAGE_SIZE: Final = 500
MAX_PAGE_SIZE: Final = 5000
R = TypeVar("R", bound=HttpResponseBase)
RATE_FORMAT: Final = "0.00%"
# A text cell starting with one of these is a formula to Excel (CSV/formula injection).
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


class Kind(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    RATE = "rate"  # a fraction 0..1 (JSON, XLSX with a percentage format) or "83.33%" (CSV)


@dataclass(frozen=True)
class Column:
    key: str
    label: StrPromise
    kind: Kind


CASE_COLUMNS: Final = [
    Column("received", _("受理数"), Kind.NUMBER),
    Column("filed", _("立案数"), Kind.NUMBER),
    Column("due", _("应结案数"), Kind.NUMBER),
    Column("suspended", _("缓办数"), Kind.NUMBER),
    Column("closed", _("结案数"), Kind.NUMBER),
    Column("closed_on_time", _("按期结案数"), Kind.NUMBER),
    Column("overdue", _("超期数"), Kind.NUMBER),
    Column("close_rate", _("结案率"), Kind.RATE),
    Column("on_time_rate", _("按期结案率"), Kind.RATE),
    Column("rework", _("返工数"), Kind.NUMBER),
    Column("extensions", _("延期数"), Kind.NUMBER),
    Column("urgent_due", _("紧急应结案数"), Kind.NUMBER),
    Column("urgent_suspended", _("紧急缓办数"), Kind.NUMBER),
    Column("urgent_closed", _("紧急结案数"), Kind.NUMBER),
    Column("urgent_closed_on_time", _("紧急按期结案数"), Kind.NUMBER),
    Column("urgent_overdue", _("紧急超期数"), Kind.NUMBER),
    Column("urgent_close_rate", _("紧急结案率"), Kind.RATE),
    Column("urgent_on_time_rate", _("紧急按期结案率"), Kind.RATE),
    Column("filed_late", _("超时立案数"), Kind.NUMBER),
    Column("filing_rate", _("按时立案率"), Kind.RATE),
    Column("replies", _("答复数"), Kind.NUMBER),
    Column("called_back", _("回访数"), Kind.NUMBER),
    Column("reached", _("回访接通数"), Kind.NUMBER),
    Column("satisfied", _("满意数"), Kind.NUMBER),
    Column("reopened", _("重办数"), Kind.NUMBER),
    Column("callback_rate", _("回访率"), Kind.RATE),
    Column("satisfaction_rate", _("满意率"), Kind.RATE),
    Column("reopen_rate", _("重办率"), Kind.RATE),
    Column("supervised", _("督办数"), Kind.NUMBER),
]
AREA_COLUMNS: Final = [
    Column("code", _("编码"), Kind.TEXT),
    Column("name", _("名称"), Kind.TEXT),
    *CASE_COLUMNS,
]
UNIT_COLUMNS: Final = [
    Column("unit_id", _("单位编号"), Kind.NUMBER),
    Column("name", _("责任单位"), Kind.TEXT),
    Column("assigned", _("派遣次数"), Kind.NUMBER),
    *CASE_COLUMNS,
]
INSPECTOR_COLUMNS: Final = [
    Column("username", _("用户名"), Kind.TEXT),
    Column("name", _("姓名"), Kind.TEXT),
    Column("reported", _("上报数"), Kind.NUMBER),
    Column("valid", _("有效上报数"), Kind.NUMBER),
    Column("cancelled", _("注销数"), Kind.NUMBER),
    Column("merged", _("合并数"), Kind.NUMBER),
    Column("valid_rate", _("有效上报率"), Kind.RATE),
    Column("verifications", _("核查数"), Kind.NUMBER),
    Column("verified_on_time", _("按时核查数"), Kind.NUMBER),
    Column("verification_rate", _("按时核查率"), Kind.RATE),
]


def columns_of(by: By) -> list[Column]:
    if by in AREA_GROUPINGS:
        return AREA_COLUMNS
    return UNIT_COLUMNS if by == By.UNIT else INSPECTOR_COLUMNS


# --- JSON and its schema, built from the columns ----------------------------------


def _field(column: Column) -> serializers.Field[Any, Any, Any, Any]:
    if column.kind == Kind.TEXT:
        return serializers.CharField(help_text=column.label)
    if column.kind == Kind.RATE:
        return serializers.FloatField(allow_null=True, help_text=column.label)
    return serializers.IntegerField(allow_null=True, help_text=column.label)


class ColumnSerializer(serializers.Serializer[Column]):
    key = serializers.CharField()
    header = serializers.CharField(source="label", help_text="Header of the column (Chinese).")
    kind = serializers.ChoiceField(choices=[kind.value for kind in Kind])


def _table_serializer(name: str, columns: list[Column]) -> type[serializers.Serializer[Any]]:
    row_fields = {column.key: _field(column) for column in columns}
    row = cast(
        type[serializers.Serializer[Any]],
        type(f"{name}Row", (serializers.Serializer,), row_fields),
    )
    table_fields = {
        "by": serializers.ChoiceField(choices=By.values),
        "start": serializers.DateField(help_text="First day of the period."),
        "end": serializers.DateField(help_text="First day after the period (exclusive)."),
        "as_of": serializers.DateTimeField(
            help_text="The earlier of the period's end and now: deadlines before it count "
            "as passed."
        ),
        "columns": ColumnSerializer(many=True),
        "count": serializers.IntegerField(help_text="Rows in all pages."),
        "page": serializers.IntegerField(help_text="This page (from 1)."),
        "page_size": serializers.IntegerField(),
        "next": serializers.URLField(allow_null=True, help_text="The next page, if any."),
        "previous": serializers.URLField(allow_null=True, help_text="The page before, if any."),
        "rows": row(many=True, help_text="The rows of this page, by code or name."),
        "total": row(
            help_text="Sums of the rows of all pages (合计), rates recomputed from the sums."
        ),
    }
    return cast(
        type[serializers.Serializer[Any]], type(name, (serializers.Serializer,), table_fields)
    )


AREA_TABLE: Final = _table_serializer("AreaEvaluation", AREA_COLUMNS)
UNIT_TABLE: Final = _table_serializer("UnitEvaluation", UNIT_COLUMNS)
INSPECTOR_TABLE: Final = _table_serializer("InspectorEvaluation", INSPECTOR_COLUMNS)


def table_of(by: By) -> type[serializers.Serializer[Any]]:
    if by in AREA_GROUPINGS:
        return AREA_TABLE
    return UNIT_TABLE if by == By.UNIT else INSPECTOR_TABLE


@dataclass(frozen=True)
class Page:
    number: int
    size: int
    next: str | None
    previous: str | None


def page_of(request: Request, count: int, number: int, size: int) -> Page:
    """Page `number` of `size` rows out of `count`, with the links to its neighbours."""
    last = max(1, -(-count // size))

    def link(to: int) -> str | None:
        if to < 1 or to > last:
            return None
        params = request.query_params.copy()
        params["page"] = str(to)
        params["page_size"] = str(size)
        return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")

    return Page(number=number, size=size, next=link(number + 1), previous=link(number - 1))


def rows_of(number: int, size: int) -> slice:
    """The rows of page `number` (from 1) of `size` rows."""
    first = (number - 1) * size
    return slice(first, first + size)


def json_body(result: Evaluation, page: Page) -> dict[str, Any]:
    """The table of `result`, which holds the rows of `page` only."""
    instance = {
        "by": result.by,
        "start": result.period.start,
        "end": result.period.end,
        "as_of": result.as_of,
        "columns": columns_of(result.by),
        "count": result.count,
        "page": page.number,
        "page_size": page.size,
        "next": page.next,
        "previous": page.previous,
        "rows": result.rows,
        "total": result.total,
    }
    return dict(table_of(result.by)(instance).data)


# --- CSV and XLSX ------------------------------------------------------------------


def _plain_text(value: str) -> str:
    # A leading apostrophe makes Excel show the text instead of running it.
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _filename(result: Evaluation, extension: str) -> tuple[str, str]:
    """An ASCII name for old clients and a Chinese one (RFC 6266 filename*)."""
    days = f"{result.period.start:%Y%m%d}-{result.period.last_day:%Y%m%d}"
    ascii_name = f"evaluation-{result.by}-{days}.{extension}"
    title = _("案件评价")
    return ascii_name, f"{title}_{result.by.label}_{days}.{extension}"


def _attachment(response: R, result: Evaluation, extension: str) -> R:
    ascii_name, name = _filename(result, extension)
    response["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    )
    return response


class _Line:
    """A file-like for csv.writer that hands back each line it is given."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(result: Evaluation, header: list[str]) -> Iterator[str]:
    columns = columns_of(result.by)
    writer = csv.writer(_Line())
    # Excel, the Chinese editions included, reads a CSV as UTF-8 only after a BOM.
    yield "\ufeff" + writer.writerow(header)
    for row in (*result.rows, result.total):
        yield writer.writerow([_csv_value(column, getattr(row, column.key)) for column in columns])


def csv_response(result: Evaluation) -> StreamingHttpResponse:
    """Every row, not a page, streamed line by line (the per-cell table of a year has
    thousands of rows)."""
    # The header is translated now, while the request's language is active; the rows
    # are plain values.
    header = [str(column.label) for column in columns_of(result.by)]
    lines = _csv_lines(result, header)
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    return _attachment(response, result, "csv")


def _csv_value(column: Column, value: Any) -> Any:
    if value is None:
        return ""
    if column.kind == Kind.RATE:
        return f"{value:.2%}"
    if column.kind == Kind.TEXT:
        return _plain_text(str(value))
    return value


def xlsx_response(result: Evaluation) -> FileResponse:
    columns = columns_of(result.by)
    workbook = Workbook(write_only=True)
    table = workbook.create_sheet(str(_("%(by)s评价") % {"by": result.by.label}))
    table.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        width = 28 if column.kind == Kind.TEXT else 12
        table.column_dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)
    table.append([_xlsx_cell(table, Kind.TEXT, str(column.label), bold) for column in columns])
    for row in result.rows:
        table.append([_xlsx_cell(table, c.kind, getattr(row, c.key)) for c in columns])
    table.append([_xlsx_cell(table, c.kind, getattr(result.total, c.key), bold) for c in columns])
    _notes_sheet(workbook, result)
    # Written to a temporary file and streamed from it, not held whole in memory.
    spool = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it when sent)
    workbook.save(spool)
    spool.seek(0)
    return _attachment(FileResponse(spool, content_type=XLSX), result, "xlsx")


def _xlsx_cell(
    sheet: WriteOnlyWorksheet, kind: Kind, value: Any, font: Font | None = None
) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    if kind == Kind.TEXT and value is not None:
        # openpyxl writes a string starting with "=" as a formula; a name is never one.
        cell.data_type = "s"
    if kind == Kind.RATE:
        cell.number_format = RATE_FORMAT
    if font is not None:
        cell.font = font
    return cell


def _notes_sheet(workbook: Workbook, result: Evaluation) -> None:
    notes = workbook.create_sheet(str(_("口径说明")))
    notes.column_dimensions["A"].width = 14
    notes.column_dimensions["B"].width = 100
    local = ZoneInfo(settings.TIME_ZONE)
    to = _("至")
    period = f"{result.period.start:%Y-%m-%d} {to} {result.period.last_day:%Y-%m-%d}"
    notes.append([str(_("分组")), str(result.by.label)])
    notes.append([str(_("本表周期")), period])
    notes.append([str(_("数据截至")), f"{result.as_of.astimezone(local):%Y-%m-%d %H:%M}"])
    notes.append([])
    notes.append([str(_("指标")), str(_("口径"))])
    for label, definition in DEFINITIONS:
        notes.append([str(label), str(definition)])


# --- the view ----------------------------------------------------------------------


class EvaluationQuery(serializers.Serializer[Any]):
    """start and end together, or neither (the current month)."""

    start = serializers.DateField(
        required=False,
        help_text="First day of the period (YYYY-MM-DD, Asia/Shanghai). With end; "
        "without both, the current month.",
    )
    end = serializers.DateField(
        required=False,
        help_text="First day after the period (exclusive): March is start=2025-03-01 and "
        f"end=2025-04-01. At most {MAX_PERIOD_DAYS} days after start.",
    )
    page = serializers.IntegerField(
        default=1, min_value=1, help_text="JSON: the page of rows (from 1); exports hold all."
    )
    page_size = serializers.IntegerField(
        default=PAGE_SIZE,
        min_value=1,
        max_value=MAX_PAGE_SIZE,
        help_text=f"JSON: rows per page (default {PAGE_SIZE}, at most {MAX_PAGE_SIZE}).",
    )
    format = serializers.ChoiceField(
        choices=["json", "csv", "xlsx"],
        default="json",
        help_text="json (default); csv (UTF-8 with a BOM, Chinese headers); xlsx (the table "
        "and a sheet with the definitions).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start"), attrs.get("end")
        if start is None and end is None:
            today = self.context["now"].astimezone(ZoneInfo(settings.TIME_ZONE)).date()
            return {**attrs, "period": Period.month_of(today)}
        if start is None or end is None:
            missing = "start" if start is None else "end"
            message = _("start 和 end 须同时给出；都不给时为本月。")
            raise serializers.ValidationError({missing: [message]})
        try:
            return {**attrs, "period": Period(start=start, end=end)}
        except PeriodError as error:
            raise serializers.ValidationError({"end": [str(error)]}) from None


BAD_QUERY = OpenApiResponse(
    response={
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "example": {"end": ["统计周期不能超过366天。"]},
    },
    description="A parameter is invalid (by, start, end or format): each is named with its "
    "messages.",
)


class EvaluationView(APIView):
    renderer_classes = [JSONRenderer]

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        # `format` is this endpoint's own parameter (json, csv, xlsx), validated with the
        # others; DRF would take it for a renderer's name and answer 404 to csv.
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        summary="Evaluation table (评价)",
        description="Figures of the case loop for a period, one row per district, street, "
        "community, cell with cases (placement as filed), responsible unit (current unit) "
        "or inspector, plus a total; JSON in pages (page, page_size; next and previous "
        "links), CSV and XLSX whole and streamed. Only cases the user may see are "
        "counted: a street office gets its street, a department its unit, an inspector "
        "their own row. Definitions: docs/evaluation.md.",
        parameters=[
            OpenApiParameter(
                "by",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=By.values,
                description="How the rows are grouped.",
            ),
            EvaluationQuery,
        ],
        responses={
            (200, "application/json"): PolymorphicProxySerializer(
                component_name="Evaluation",
                serializers=[AREA_TABLE, UNIT_TABLE, INSPECTOR_TABLE],
                resource_type_field_name=None,
            ),
            (200, "text/csv"): OpenApiTypes.STR,
            (200, XLSX): OpenApiTypes.BINARY,
            (400, "application/json"): BAD_QUERY,
        },
    )
    def get(self, request: Request, by: str) -> HttpResponseBase:
        if by not in By.values:
            choices = ", ".join(By.values)
            message = _("未知的分组 %(by)s；可选：%(choices)s。") % {"by": by, "choices": choices}
            raise serializers.ValidationError({"by": [message]})
        now = clock.now()
        query = EvaluationQuery(data=request.query_params.dict(), context={"now": now})
        query.is_valid(raise_exception=True)
        data = query.validated_data
        export_format = data["format"]
        if export_format == "json":
            # Only the page's rows are computed where that is cheaper (the per-cell table).
            rows = rows_of(data["page"], data["page_size"])
            result = evaluate(request.user, by=By(by), period=data["period"], now=now, page=rows)
            page = page_of(request, result.count, data["page"], data["page_size"])
            return Response(json_body(result, page))
        # Exports hold every row.
        result = evaluate(request.user, by=By(by), period=data["period"], now=now)
        response = csv_response(result) if export_format == "csv" else xlsx_response(result)
        # Every export leaves a trace (MLPS level 3): who took which table for which period.
        audit_record(
            action=Action.EXPORT,
            request=request._request,
            user=request.user,
            object_type="evaluation",
            object_id=result.by,
            detail={
                "format": export_format,
                "start": result.period.start.isoformat(),
                "last_day": result.period.last_day.isoformat(),
                "rows": len(result.rows),
            },
        )
        return response


urlpatterns = [path("<str:by>/", EvaluationView.as_view(), name="evaluation")]
