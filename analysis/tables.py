"""The analysis views as tables: their columns (one list per view drives the JSON, the
page's table and the CSV/XLSX exports, so they never disagree) and the two file formats.
The exports follow dispatch.api.export: UTF-8 CSV with a BOM, XLSX with bold headers,
text never a formula."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from django.http import HttpResponse
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    key: str
    label: StrOrPromise
    kind: str = "text"  # text, number, rate (a fraction 0..1), flag

    def as_json(self) -> dict[str, str]:
        return {"key": self.key, "header": str(self.label), "kind": self.kind}


CELL = Column("code", _("网格编码"))
HOTSPOT_COLUMNS: Final = [
    CELL,
    Column("name", _("网格")),
    Column("cases", _("案件数"), "number"),
    Column("lon", _("经度"), "number"),
    Column("lat", _("纬度"), "number"),
]
TREND_COLUMNS: Final = [
    Column("bucket", _("日期")),
    Column("received", _("上报数"), "number"),
    # then one column per major class (class_<id>), added per answer
    Column("due", _("应结案数"), "number"),
    Column("suspended", _("缓办数"), "number"),
    Column("closed", _("结案数"), "number"),
    Column("closed_on_time", _("按期结案数"), "number"),
    Column("close_rate", _("结案率"), "rate"),
    Column("on_time_rate", _("按期结案率"), "rate"),
]
CATEGORY_COLUMNS: Final = [
    Column("area_code", _("区域编码")),
    Column("area", _("区域")),
    Column("area_cases", _("区域案件数"), "number"),
    Column("rank", _("排名"), "number"),
    Column("category_code", _("分类编码")),
    Column("category", _("分类")),
    Column("cases", _("案件数"), "number"),
    Column("share", _("占比"), "rate"),
]
RECURRING_COLUMNS: Final = [
    Column("cell_code", _("网格编码")),
    Column("cell", _("网格")),
    Column("category_code", _("分类编码")),
    Column("category", _("分类")),
    Column("most_in_days", _("时间窗内最多次数"), "number"),
    Column("cases", _("期间案件数"), "number"),
    Column("open", _("未结案件数"), "number"),
    Column("first", _("首次上报")),
    Column("last", _("最近上报")),
    Column("lon", _("经度"), "number"),
    Column("lat", _("纬度"), "number"),
]
AT_RISK_COLUMNS: Final = [
    Column("id", _("案件编号"), "number"),
    Column("state", _("状态")),
    Column("category", _("分类")),
    Column("street", _("街道")),
    Column("unit", _("责任单位")),
    Column("address", _("地址描述")),
    Column("due_at", _("处置时限")),
    Column("hours_left", _("剩余小时"), "number"),
    Column("warned", _("已预警"), "flag"),
    Column("lon", _("经度"), "number"),
    Column("lat", _("纬度"), "number"),
]


def _text(value: str) -> str:
    # A leading apostrophe makes a spreadsheet show the text instead of running it.
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _value(column: Column, value: Any, *, csv_rate: bool) -> Any:
    if value is None:
        return ""
    if column.kind == "rate" and csv_rate:
        return f"{value:.2%}"
    if column.kind == "flag":
        return str(_("是") if value else _("否"))
    if isinstance(value, str):
        return _text(value)
    return value


def _attachment(response: HttpResponse, name: str, title: str, extension: str) -> HttpResponse:
    response["Content-Disposition"] = (
        f'attachment; filename="{name}.{extension}"; '
        f"filename*=UTF-8''{quote(f'{title}.{extension}')}"
    )
    return response


def csv_response(
    columns: list[Column], rows: list[dict[str, Any]], name: str, title: str
) -> HttpResponse:
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads a CSV as UTF-8 only after a BOM
    writer = csv.writer(out)
    writer.writerow([str(column.label) for column in columns])
    for row in rows:
        writer.writerow([_value(c, row.get(c.key), csv_rate=True) for c in columns])
    response = HttpResponse(out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8")
    return _attachment(response, name, title, "csv")


def xlsx_response(
    columns: list[Column], rows: list[dict[str, Any]], name: str, title: str
) -> HttpResponse:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        width = 24 if column.kind == "text" else 12
        sheet.column_dimensions[get_column_letter(index)].width = width
    bold = Font(bold=True)
    sheet.append([_cell(sheet, str(column.label), "text", bold) for column in columns])
    for row in rows:
        sheet.append([_cell(sheet, row.get(c.key), c.kind) for c in columns])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return _attachment(HttpResponse(buffer.getvalue(), content_type=XLSX), name, title, "xlsx")


def _cell(sheet: Any, value: Any, kind: str, font: Font | None = None) -> WriteOnlyCell:
    if kind == "flag" and value is not None:
        value = str(_("是") if value else _("否"))
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula
    if kind == "rate":
        cell.number_format = "0.00%"
    if font is not None:
        cell.font = font
    return cell
