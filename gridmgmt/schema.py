"""The OpenAPI schema's errors, declared once for every operation (SPECTACULAR_SETTINGS,
POSTPROCESSING_HOOKS): what gridmgmt.api_errors answers, whatever view it comes from.

Two components: `Error`, the API's one error shape `{"detail", "code", "field"}`, and
`ValidationErrors`, what a serializer's field checks answer (`{"field": ["message"]}`,
every field at fault at once; nested for nested input). A 400 is either (a NUL
character in the query is refused before any view, a wrong `datum` by the view's
serializer); every other 4xx is an `Error`.

Each operation gets 400, 403 (not signed in, or the role may not) and 429 (over the
request rate); one with a path parameter 404, one with a body 413 and 415. A view still
says when its own errors happen (its OpenApiResponse's description, and statuses such as
409); the hook gives every 4xx its body, so no view declares an error shape of its own.
"""

from __future__ import annotations

from typing import Any

ERROR = "Error"
VALIDATION_ERRORS = "ValidationErrors"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The API's error: what is wrong in words a person can act on, in the "
    "user's language; `code` for programs; `field` names the input at fault, if one is.",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string", "example": "invalid"},
        "field": {"type": "string", "nullable": True},
    },
    "required": ["detail", "code", "field"],
    "example": {"detail": "地址或查询参数中含有 NUL 字符（\\0），无法处理。", "code": "invalid",
                "field": None},
}  # fmt: skip

VALIDATION_ERRORS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A serializer's field checks: each input at fault, named with its "
    "messages (a nested input with its own fields, a list with its items').",
    "minProperties": 1,
    "additionalProperties": {
        "oneOf": [
            {
                "type": "array",
                "items": {
                    "oneOf": [
                        {"type": "string"},
                        {"$ref": f"#/components/schemas/{VALIDATION_ERRORS}"},
                    ]
                },
            },
            {"$ref": f"#/components/schemas/{VALIDATION_ERRORS}"},
        ]
    },
    "example": {"q": ["地址太短：请至少输入 2 个字，例如路名加门牌号或小区名。"]},
}

# A status's description where the view gives none.
DEFAULTS: dict[str, str] = {
    "400": "Bad input. A field check answers `ValidationErrors`, naming every field at "
    "fault; a request refused as a whole (a NUL character in the query, a body that "
    "cannot be parsed) answers `Error`.",
    "403": "Not signed in, or the user's role may not do this.",
    "404": "No such object, or one the user may not see (the two look alike).",
    "413": "The body is larger than this operation accepts.",
    "415": "The body is of a media type this operation does not read.",
    "429": "Too many requests: over the request rate (see Retry-After).",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error_content(status: str) -> dict[str, Any]:
    schema = {"oneOf": [_ref(ERROR), _ref(VALIDATION_ERRORS)]} if status == "400" else _ref(ERROR)
    return {"application/json": {"schema": schema}}


def _statuses(operation: dict[str, Any], path: str) -> set[str]:
    statuses = {"400", "403", "429"}
    if "{" in path:
        statuses.add("404")
    if "requestBody" in operation:
        statuses |= {"413", "415"}
    return statuses


def declare_errors(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the error components, and every operation's
    4xx answered with them."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR] = ERROR_SCHEMA
    schemas[VALIDATION_ERRORS] = VALIDATION_ERRORS_SCHEMA
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            responses = operation.setdefault("responses", {})
            statuses = _statuses(operation, path) | {s for s in responses if s.startswith("4")}
            for status in sorted(statuses):
                response = responses.setdefault(status, {})
                if not response.get("description"):
                    response["description"] = DEFAULTS.get(status, "The API's error.")
                response["content"] = _error_content(status)
            operation["responses"] = dict(sorted(responses.items()))
    return result
