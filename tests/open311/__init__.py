"""The Open311 test kit: JSON Schemas of GeoReport v2 (the .json files beside this one,
written from the specification at wiki.open311.org/GeoReport_v2), a reader for both
formats that checks content type, encoding and shape, and the client applications the
tests file with.

XML is read into the same values as JSON by the specification's Spark convention (a list
element holds items named after it; an empty element is null; booleans and numbers are
typed by field), so that one schema checks both formats.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from layers.models import Area, Unit, UnitKind
from open311.clients import client_save, key_issue
from open311.models import ClientApplication

HERE = Path(__file__).resolve().parent
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'
FORMATS = ("xml", "json")

# Schema → the root element of its XML document.
ROOTS = {
    "discovery": "discovery",
    "services": "services",
    "service_definition": "service_definition",
    "service_requests": "service_requests",
    "post_request": "service_requests",
    "errors": "errors",
}
# A list element → the name of its items.
LISTS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
    "notes": "note",
}
BOOLEANS = {"metadata", "variable", "required"}
FLOATS = {"lat", "long"}
INTEGERS = {"order", ("error", "code")}


@cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((HERE / f"{name}.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def read(content: bytes, content_type: str, fmt: str, schema: str) -> Any:
    """The document's values, after checking its content type, its encoding and (for
    XML) its declaration and element names; then validated against `schema`."""
    assert content_type == CONTENT_TYPES[fmt], content_type
    content.decode("utf-8")  # UTF-8 everywhere, or this raises
    if fmt == "json":
        data = json.loads(content)
    else:
        assert content.startswith(XML_DECLARATION), content[:60]
        root = ET.fromstring(content)  # noqa: S314 - our own server's output
        assert root.tag == ROOTS[schema], root.tag
        data = spark(root)
    errors = sorted(validator(schema).iter_errors(data), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])
    return data


def spark(element: ET.Element, parent: str = "") -> Any:
    """An XML element as the JSON the Spark convention maps it to."""
    assert not element.attrib, f"attributes on <{element.tag}>"
    if element.tag in LISTS and (len(element) or not (element.text or "").strip()):
        for child in element:
            assert child.tag == LISTS[element.tag], f"<{child.tag}> in <{element.tag}>"
        return [spark(child, element.tag) for child in element]
    if len(element):
        tags = [child.tag for child in element]
        assert len(tags) == len(set(tags)), f"repeated elements in <{element.tag}>: {tags}"
        return {child.tag: spark(child, element.tag) for child in element}
    text = element.text
    if text is None:
        return None
    if element.tag in BOOLEANS:
        assert text in ("true", "false"), text
        return text == "true"
    if element.tag in FLOATS:
        return float(text)
    if element.tag in INTEGERS or (parent, element.tag) in INTEGERS:
        return int(text)
    return text


def make_client(
    name: str = "demo", *, scope: str = "440100", channel: str = "web"
) -> tuple[ClientApplication, str]:
    """A client application (a 12345 hotline service user) and a fresh key for it."""
    application = client_save(
        ClientApplication(
            name=name,
            channel=channel,
            scope=Area.objects.current().get(code=scope),
            unit=Unit.objects.filter(kind=UnitKind.HOTLINE).order_by("pk").first(),
        )
    )
    return application, key_issue(application=application).secret
