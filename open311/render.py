"""GeoReport v2 documents as XML or JSON, one tree for both (the Spark convention the
specification uses: a list is an element of items, each named after the list).

Values are dicts, lists, str, int, float, bool or None, datetimes already formatted
(open311.params.w3c). In XML, None is an empty element and booleans are true/false.
Characters that XML 1.0 cannot carry at all (control characters other than tab and line
breaks) are replaced by U+FFFD rather than producing a document no parser accepts.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from enum import StrEnum
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _

from open311.errors import NotFound, Open311Error


class Format(StrEnum):
    XML = "xml"
    JSON = "json"


CONTENT_TYPES = {
    Format.XML: "text/xml; charset=utf-8",
    Format.JSON: "application/json; charset=utf-8",
}
MEDIA_TYPES = ["text/xml", "application/json"]  # as discovery lists them
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'

# Element name of the items of each list.
ITEMS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
    "notes": "note",
}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def parse_format(suffix: str) -> Format:
    try:
        return Format(suffix.lower())
    except ValueError:
        raise NotFound(
            _("没有 .%(suffix)s 格式：请用 .xml 或 .json。") % {"suffix": suffix[:20]}
        ) from None


def format_of(path: str) -> Format:
    """The format an error about `path` is written in when its view did not run (a body
    refused before it, an unexpected error): JSON for a .json address, else XML, the
    format the specification requires."""
    return Format.JSON if path.lower().endswith(".json") else Format.XML


def render(fmt: Format, root: str, value: Any, *, status: int = 200) -> HttpResponse:
    """`value` as the document `root` (a list's root names its items through ITEMS)."""
    if fmt is Format.JSON:
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    else:
        tree = ET.tostring(_element(root, value), encoding="unicode")
        body = (XML_DECLARATION + tree).encode()
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])


def render_error(fmt: Format, error: Open311Error) -> HttpResponse:
    return render(fmt, "errors", error.body(), status=error.status)


def _element(name: str, value: Any) -> ET.Element:
    element = ET.Element(name)
    if isinstance(value, dict):
        element.extend(_element(key, item) for key, item in value.items())
    elif isinstance(value, list):
        element.extend(_element(ITEMS[name], item) for item in value)
    elif value is not None:
        element.text = _text(value)
    return element


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return _NOT_XML.sub("\ufffd", str(value))
