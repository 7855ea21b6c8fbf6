"""Export of the case list: GET /api/cases/export.csv and /api/cases/export.xlsx.

The same filters and the same scope as GET /api/cases/ (CaseListQuery, visible_cases),
one row per case, newest first; callers' names and numbers masked as the list masks
them; the header in the user's language. At most settings.CASE_EXPORT_MAX_ROWS rows:
beyond that the answer is a 400 asking to narrow the filters, never a truncated file.
Every export is recorded in the audit trail (audit.Action.EXPORT).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db.models import Model
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from audit.models import Action
from audit.services import audit_record
from dispatch.api import serializers as s
from dispatch.api.views import ERROR, _cases, _filtered
from gridmgmt import clock
from incidents.access import caller_fields, can_see_caller, visible_cases
from incidents.errors import InvalidInput
from incidents.models import Case

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("csv", "xlsx")


class ExportTooLarge(InvalidInput):
    code = "export_too_large"


def max_rows() -> int:
    return int(settings.CASE_EXPORT_MAX_ROWS)


def _name(area: Model | None) -> str:
    return str(getattr(area, "display_name", "")) if area is not None else ""


def _local(moment: Any) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}" if moment else ""


def _field(name: str) -> str:
    return str(getattr(Case._meta.get_field(name), "verbose_name", name))


# (header, value of a case, the caller fields of that case)
Column = tuple[Callable[[], str], Callable[[Case, dict[str, str]], Any]]

COLUMNS: list[Column] = [
    (lambda: str(gettext_lazy("案件编号")), lambda c, p: c.pk),
    (lambda: _field("state"), lambda c, p: c.get_state_display()),
    (lambda: _field("source"), lambda c, p: c.get_source_display()),
    (lambda: _field("category"), lambda c, p: c.category.display_name),
    (lambda: _field("description"), lambda c, p: c.description),
    (lambda: _field("address_text"), lambda c, p: c.address_text),
    (lambda: _field("district"), lambda c, p: _name(c.district)),
    (lambda: _field("street"), lambda c, p: _name(c.street)),
    (lambda: _field("community"), lambda c, p: _name(c.community)),
    (lambda: _field("cell"), lambda c, p: _name(c.cell)),
    (lambda: _field("unit"), lambda c, p: c.unit.display_name if c.unit else ""),
    (lambda: _field("created_at"), lambda c, p: _local(c.created_at)),
    (lambda: _field("due_at"), lambda c, p: _local(c.due_at)),
    (lambda: _field("closed_at"), lambda c, p: _local(c.closed_at)),
    (lambda: _field("overdue"), lambda c, p: _("是") if c.overdue else _("否")),
    (lambda: _field("caller_name"), lambda c, p: p["caller_name"]),
    (lambda: _field("caller_phone"), lambda c, p: p["caller_phone"]),
]


def rows(cases: Any, *, unmasked: bool) -> Iterator[list[Any]]:
    for case in cases:
        person = caller_fields(case, unmasked=unmasked)
        yield [value(case, person) for _header, value in COLUMNS]


def _plain(value: Any) -> Any:
    """A cell a spreadsheet will not run: text starting with = + - @ gets a quote
    (CSV injection); numbers stay numbers."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_body(header: list[str], body: Iterator[list[Any]]) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads a CSV as UTF-8 only after a BOM
    writer = csv.writer(out)
    writer.writerow(header)
    for row in body:
        writer.writerow([_plain(v) for v in row])
    return out.getvalue().encode("utf-8")


def xlsx_body(header: list[str], body: Iterator[list[Any]]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("案件"))
    sheet.freeze_panes = "A2"
    for index in range(1, len(header) + 1):
        sheet.column_dimensions[get_column_letter(index)].width = 40 if index == 5 else 16
    bold = Font(bold=True)
    sheet.append([_cell(sheet, title, bold) for title in header])
    for row in body:
        sheet.append([_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _cell(sheet: Any, value: Any, font: Font | None = None) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula: descriptions are typed by people
    if font is not None:
        cell.font = font
    return cell


class CaseExportView(APIView):
    renderer_classes = [JSONRenderer]  # errors; the file itself is an HttpResponse

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        # `format` (in the path) is this endpoint's own; DRF would look for a renderer.
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        operation_id="cases_export",
        summary="Export the case list (CSV or XLSX)",
        description="The cases GET /api/cases/ lists with the same filters, one row per "
        "case, callers masked as in the list; at most CASE_EXPORT_MAX_ROWS rows (10000 by "
        "default), else 400 `export_too_large`. Recorded in the audit trail.",
        parameters=[
            OpenApiParameter("fmt", OpenApiTypes.STR, OpenApiParameter.PATH, enum=FORMATS),
            s.CaseListQuery,
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, XLSX): OpenApiTypes.BINARY,
            400: ERROR,
        },
    )
    def get(self, request: Request, fmt: str) -> HttpResponse:
        if fmt not in FORMATS:
            raise InvalidInput(
                _("未知的导出格式 %(format)s；可选：csv、xlsx。") % {"format": fmt[:10]},
                field="format",
            )
        query = s.CaseListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        cases = _filtered(visible_cases(request.user, _cases()), request, query.validated_data)
        count = cases.count()
        limit = max_rows()
        if count > limit:
            raise ExportTooLarge(
                _("共 %(count)s 件，超过一次导出的上限 %(limit)s 件；请缩小查询范围。")
                % {"count": count, "limit": limit}
            )
        unmasked = can_see_caller(request.user)
        header = [title() for title, _value in COLUMNS]
        body = rows(cases.iterator(chunk_size=2000), unmasked=unmasked)
        content = csv_body(header, body) if fmt == "csv" else xlsx_body(header, body)
        kind = "text/csv; charset=utf-8" if fmt == "csv" else XLSX
        response = HttpResponse(content, content_type=kind)
        stamp = f"{clock.localtime():%Y%m%d-%H%M}"
        name = f"{_('案件')}_{stamp}.{fmt}"
        response["Content-Disposition"] = (
            f"attachment; filename=\"cases-{stamp}.{fmt}\"; filename*=UTF-8''{quote(name)}"
        )
        # Every export leaves a trace: who took which cases, filtered how.
        audit_record(
            action=Action.EXPORT,
            request=request._request,
            user=request.user,
            object_type="cases",
            object_id=fmt,
            detail={
                "format": fmt,
                "rows": count,
                "filters": {k: v for k, v in request.query_params.items() if k != "format"},
                "unmasked": unmasked,
            },
        )
        return response
