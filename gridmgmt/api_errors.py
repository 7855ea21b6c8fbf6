"""One JSON shape for every error of the API under /api/: {"detail", "code", "field"}
(a 500 adds "error_id", the key of its traceback in the log); Open311's own under
/open311/ (open311.errors). The message is in the user's language
(gridmgmt.middleware.ChosenLanguageMiddleware).

Three doors lead here: DRF's exception handler (errors raised in an API view, parsing of
the body included), Django's handler400/403/404/500 (gridmgmt.urls: what happens outside
a view, such as an unknown address), and gridmgmt.errors_middleware (what is refused
before a view runs). Pages outside these prefixes keep Django's HTML error pages.

Validation errors of a serializer keep DRF's `{"field": ["message"]}` (docs/api.md):
they name every field at fault at once, which clients of the case loop rely on.
"""

from __future__ import annotations

import json
import logging
import secrets
import sys
from typing import Any

from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from incidents.errors import CaseError

logger = logging.getLogger("gridmgmt.errors")

API_PREFIX = "/api/"
OPEN311_PREFIX = "/open311/"


def error_body(detail: str | Promise, code: str, field: str | None = None) -> dict[str, Any]:
    return {"detail": str(detail), "code": code, "field": field}


def json_error(
    status: int, detail: str | Promise, code: str, field: str | None = None, **extra: Any
) -> HttpResponse:
    """The API's error as a plain Django response (outside DRF's views)."""
    body = json.dumps({**error_body(detail, code, field), **extra}, ensure_ascii=False)
    return HttpResponse(body, status=status, content_type="application/json; charset=utf-8")


def error_for(request: HttpRequest, status: int, detail: str | Promise, code: str) -> HttpResponse:
    """The error in the shape of the prefix the request came to; None-prefix requests
    (the pages) are not answered here."""
    if request.path.startswith(OPEN311_PREFIX):
        # Imported here: open311 is an app of the project, loaded after the settings.
        from open311.errors import Open311Error
        from open311.render import format_of, render_error

        return render_error(format_of(request.path), Open311Error.with_status(status, detail))
    return json_error(status, detail, code)


def served_as_api(request: HttpRequest) -> bool:
    return request.path.startswith((API_PREFIX, OPEN311_PREFIX))


# --- What a request's body can be refused for, whoever notices it -------------------


def body_error(error: Exception) -> tuple[int, str, str] | None:
    """(status, message, code) for an error raised while the body was read or parsed;
    None for anything else."""
    if isinstance(error, RequestDataTooBig):
        return 413, _("请求体过大：超过了本接口允许的大小。"), "too_large"
    if isinstance(error, TooManyFieldsSent):
        return 400, _("表单字段过多：超过了允许的字段数。"), "too_many_fields"
    if isinstance(error, TooManyFilesSent):
        return 400, _("上传的文件过多：超过了允许的文件数。"), "too_many_files"
    if isinstance(error, MultiPartParserError):
        return 400, _("无法解析 multipart 表单：%(error)s") % {"error": error}, "parse_error"
    if isinstance(error, UnicodeDecodeError):
        return 400, _("请求体不是有效的 UTF-8 编码。"), "bad_encoding"
    if isinstance(error, RecursionError):
        # json.loads gives up on nesting deeper than the interpreter's recursion limit.
        return 400, _("请求体嵌套层数过多，无法解析。"), "parse_error"
    return None


# --- DRF: errors raised in the API's views ------------------------------------------


def exception_handler(error: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(error, CaseError):
        set_rollback()
        body = error_body(error.message, error.code, error.field)
        return Response(body, status=error.status)
    if (found := body_error(error)) is not None:
        status, message, code = found
        set_rollback()
        return Response(error_body(message, code), status=status)
    if isinstance(error, Http404):
        # Django's message is English and names the model; ours says what it means.
        error = exceptions.NotFound(_("没有这个对象，或您无权查看。"))
    elif isinstance(error, (PermissionDenied, SuspiciousOperation, BadRequest)):
        error = _django_error(error)
    response = drf_exception_handler(error, context)
    if response is None or not isinstance(error, exceptions.APIException):
        return response  # an unexpected error: Django's handler500 answers (below)
    if isinstance(error.detail, dict):
        return response  # a serializer's errors, field by field (docs/api.md)
    detail = error.detail[0] if isinstance(error.detail, list) else error.detail
    code = getattr(detail, "code", None) or error.default_code
    response.data = error_body(str(detail), str(code))
    return response


def _django_error(error: Exception) -> exceptions.APIException:
    if isinstance(error, PermissionDenied):
        return exceptions.PermissionDenied()
    return exceptions.ParseError(_("请求无效：%(error)s") % {"error": error})


# --- Django's handlers (gridmgmt.urls): outside the views ---------------------------


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not served_as_api(request):
        return defaults.bad_request(request, exception)
    status, message, code = body_error(exception) or (400, _("请求无效。"), "invalid")
    return error_for(request, status, message, code)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not served_as_api(request):
        return defaults.permission_denied(request, exception)
    return error_for(request, 403, _("您无权执行此操作。"), "permission_denied")


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not served_as_api(request):
        return defaults.page_not_found(request, exception)
    message = _("没有这个地址：%(path)s。") % {"path": request.path[:200]}
    return error_for(request, 404, message, "not_found")


def server_error(request: HttpRequest) -> HttpResponse:
    """A 500 with an id that finds its traceback in the log: called by Django while the
    exception is being handled, so sys.exc_info() still holds it."""
    error_id = secrets.token_hex(8)
    logger.error(
        "Unexpected error %s on %s %s",
        error_id,
        request.method,
        request.path,
        exc_info=sys.exc_info(),
    )
    if not served_as_api(request):
        return defaults.server_error(request)
    message = _("服务器内部错误，请稍后重试；如仍出错，请将错误编号 %(id)s 告知管理员。") % {
        "id": error_id
    }
    if request.path.startswith(OPEN311_PREFIX):
        return error_for(request, 500, message, "server_error")
    return json_error(500, message, "server_error", error_id=error_id)
