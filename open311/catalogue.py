"""The catalogue of components and events (layers.models.Category) as GeoReport v2
services, their definitions, and the check of a request's attribute answers.

- A service is an active subcategory: a case is always filed under a subcategory, so a
  major class is not a service; it is the service's `group`.
- service_code is the kind and the 4-digit code: `event-0101` (暴露垃圾),
  `component-0101` (上水井盖). Events and components share codes, hence the kind.
- Every service is `realtime`: the POST answers with the case's id at once.
- Attributes (extra fields) are ServiceAttribute rows edited in the admin, plus one that
  every component service has: `component_code`, the 16-digit ID painted on the
  component (GB/T 30428.2), optional. A service with any attribute has metadata=true.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models import Max, QuerySet
from django.utils.translation import gettext as _

from layers.models import Category, CategoryKind
from layers.validators import InvalidCode, validate_component_code
from open311.errors import BadRequest, NotFound
from open311.models import COMPONENT_CODE, LIST_DATATYPES, Datatype, ServiceAttribute
from open311.params import w3c

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
STRING_MAX = 200  # a `string` answer: one line
TEXT_MAX = 4000  # a `text` answer, as long as a description
# What discovery says when no attribute was ever edited: the date this mapping was made.
FIRST_CHANGESET = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: str
    required: bool
    description: str
    order: int
    variable: bool = True
    datatype_description: str = ""
    values: list[tuple[str, str]] = field(default_factory=list)


def service_code(category: Category) -> str:
    return f"{category.kind}-{category.code}"


def services_queryset() -> QuerySet[Category]:
    return Category.objects.filter(active=True).exclude(minor_code="")


def category_for(code: str) -> Category:
    """The service's category, or NotFound (404)."""
    kind, _sep, digits = code.partition("-")
    found = None
    if kind in CategoryKind.values and len(digits) == 4 and digits.isdigit():
        found = (
            services_queryset()
            .filter(kind=kind, major_code=digits[:2], minor_code=digits[2:])
            .first()
        )
    if found is None:
        raise NotFound(_("没有代码为 %(code)s 的服务（分类）。") % {"code": code[:40]})
    return found


def services() -> list[dict[str, Any]]:
    """GET services: every service, in catalogue order."""
    categories = list(services_queryset().order_by("kind", "major_code", "minor_code"))
    majors = {
        (c.kind, c.major_code): c.name
        for c in Category.objects.filter(minor_code="").only("kind", "major_code", "name")
    }
    configured = set(ServiceAttribute.objects.values_list("category_id", flat=True))
    return [
        {
            "service_code": service_code(category),
            "service_name": category.name,
            "description": category.filing_condition or category.name,
            "metadata": category.pk in configured or category.kind == CategoryKind.COMPONENT,
            "type": "realtime",
            "keywords": _keywords(category, majors),
            "group": _group(category, majors),
        }
        for category in categories
    ]


def _group(category: Category, majors: dict[tuple[str, str], str]) -> str:
    major = majors.get((category.kind, category.major_code), category.major_code)
    return f"{category.get_kind_display()}·{major}"


def _keywords(category: Category, majors: dict[tuple[str, str], str]) -> str:
    words = [
        category.name_en,
        majors.get((category.kind, category.major_code), ""),
        str(category.get_kind_display()),
        category.code,
    ]
    return ", ".join(word for word in words if word)


def definition(category: Category) -> dict[str, Any]:
    """GET services/{code}: the service's attributes in their order."""
    return {
        "service_code": service_code(category),
        "attributes": [
            {
                "variable": attribute.variable,
                "code": attribute.code,
                "datatype": attribute.datatype,
                "required": attribute.required,
                "datatype_description": attribute.datatype_description or None,
                "order": attribute.order,
                "description": attribute.description,
                "values": [{"key": key, "name": name} for key, name in attribute.values],
            }
            for attribute in attributes_of(category)
        ],
    }


def attributes_of(category: Category) -> list[Attribute]:
    rows = list(ServiceAttribute.objects.filter(category=category).order_by("order", "code"))
    found = [
        Attribute(
            code=row.code,
            datatype=row.datatype,
            required=row.required,
            description=row.description,
            order=row.order,
            variable=row.variable,
            datatype_description=row.datatype_description,
            values=row.values(),
        )
        for row in rows
    ]
    if category.kind == CategoryKind.COMPONENT:
        found.append(
            Attribute(
                code=COMPONENT_CODE,
                datatype=Datatype.STRING,
                required=False,
                description=_("部件标识码：部件上标注的16位编码（如有）"),
                order=max((row.order for row in rows), default=0) + 1,
                datatype_description=_("16位数字：所在区划代码加部件类别和序号"),
            )
        )
    return found


def changeset() -> str:
    """When the services last changed: the latest attribute saved, or attribute or
    category changed, added or deleted in the admin (its log keeps the time of a
    deletion, which the attributes' own `updated_at` loses with the row: the newest
    attribute deleted sent the changeset back to the one edited before it)."""
    saved = ServiceAttribute.objects.aggregate(latest=Max("updated_at"))["latest"]
    types = ContentType.objects.get_for_models(ServiceAttribute, Category).values()
    logged = LogEntry.objects.filter(content_type__in=types).aggregate(latest=Max("action_time"))[
        "latest"
    ]
    return w3c(max(t for t in (saved, logged, FIRST_CHANGESET) if t is not None)) or ""


def check_answers(category: Category, answers: dict[str, list[str]]) -> dict[str, list[str]]:
    """The answers to the service's attributes, checked against its definition; every
    problem is reported at once (BadRequest with one error each)."""
    attributes = {a.code: a for a in attributes_of(category) if a.variable}
    errors = [
        _("服务 %(service)s 没有附加字段 %(code)s。")
        % {"service": service_code(category), "code": code[:40]}
        for code in answers
        if code not in attributes
    ]
    checked: dict[str, list[str]] = {}
    for code, attribute in attributes.items():
        values = answers.get(code, [])
        problem = _problem(attribute, values)
        if problem:
            errors.append(f"attribute[{code}]: {problem}")
        elif values:
            checked[code] = values
    if errors:
        raise BadRequest(*errors)
    return checked


def _problem(attribute: Attribute, values: list[str]) -> str | None:
    if not values:
        return _("此项必填。") if attribute.required else None
    if attribute.datatype != Datatype.MULTIVALUELIST and len(values) > 1:
        return _("只能填一个值，收到 %(n)d 个。") % {"n": len(values)}
    if attribute.datatype in LIST_DATATYPES:
        keys = {key for key, _name in attribute.values}
        wrong = [value for value in values if value not in keys]
        if wrong:
            return _("%(values)s 不在选项中（可选：%(keys)s）。") % {
                "values": "、".join(v[:40] for v in wrong),
                "keys": "、".join(sorted(keys)),
            }
        return None
    return _value_problem(attribute, values[0])


def _value_problem(attribute: Attribute, value: str) -> str | None:
    if attribute.code == COMPONENT_CODE:
        try:
            validate_component_code(value)
        except InvalidCode as error:
            return str(error)
        return None
    if attribute.datatype == Datatype.NUMBER:
        try:
            finite = math.isfinite(float(value))
        except ValueError:
            finite = False
        return None if finite else _("应为数字。")
    if attribute.datatype == Datatype.DATETIME:
        try:
            dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError:
            return _("应为 ISO 8601 日期时间，如 2026-11-23T10:00:00+08:00。")
        return None
    limit = TEXT_MAX if attribute.datatype == Datatype.TEXT else STRING_MAX
    if len(value) > limit:
        return _("最多 %(max)d 个字符。") % {"max": limit}
    if attribute.datatype == Datatype.STRING and ("\n" in value or "\r" in value):
        return _("应为单行文字。")
    return None


def discovery(endpoint_url: str, *, formats: list[str], test: bool) -> dict[str, Any]:
    """The service discovery document (one GeoReport v2 endpoint)."""
    changed = changeset()
    return {
        "changeset": changed,
        "contact": _("gridmgmt 网格化管理平台：问题上报与进度查询。"),
        "key_service": _(
            "提交上报需要 API 密钥：由本市管理员在后台“Open311客户端应用”中为每个应用签发"
            "（或运行 manage.py issue_open311_key），每个应用有自己的渠道和受理范围。"
        ),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": endpoint_url,
                "changeset": changed,
                "type": "test" if test else "production",
                "formats": formats,
            }
        ],
    }
