"""What the API refuses before a view runs, in its error shape (gridmgmt.api_errors).

- **Size**: a body larger than the endpoint can use is refused with 413 from its
  Content-Length, before a byte of it is read. The upload endpoints take their photos
  (CASE_PHOTO_MAX_COUNT x CASE_PHOTO_MAX_BYTES, one photo for Open311) and a margin for
  the form's other fields; every other endpoint Django's DATA_UPLOAD_MAX_MEMORY_SIZE.
  Under ASGI, Django reads the whole body before any middleware runs, so the guard is
  also an ASGI wrapper (`BodySizeGuard`, gridmgmt.asgi) that answers from the headers,
  and stops a chunked body (no Content-Length) as soon as it passes the limit.
- **Open311's key first**: a POST of a service request whose query string carries an
  api_key that is wrong or revoked is refused (403) before its body is received.
- **NUL characters** in the path or the query string: PostgreSQL cannot store them, and
  no field of ours has a use for them (400).
- **A declared charset other than UTF-8** on a body (400): the API reads UTF-8 only.

Pages outside /api/ and /open311/ keep Django's own limits and HTML errors.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote_to_bytes

from asgiref.sync import iscoroutinefunction
from channels.db import database_sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.cookie import parse_cookie
from django.utils import translation
from django.utils.decorators import sync_and_async_middleware
from django.utils.translation import gettext as _

from gridmgmt.api_errors import API_PREFIX, OPEN311_PREFIX, json_error

# Room for an upload's other fields and the multipart framing around its files.
UPLOAD_MARGIN = 1024 * 1024
_CASE_UPLOADS = re.compile(r"/api/cases/(reports|[^/]+/(handle|verify))/")
_OPEN311_UPLOADS = re.compile(r"/open311/v2/requests\.[A-Za-z0-9]+")
_UTF8 = {"utf-8", "utf8"}

Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Made = TypeVar("Made", bound=HttpResponse | None)


def body_limit(path: str) -> int | None:
    """The largest body `path` accepts, in bytes; None: not ours to limit."""
    if not path.startswith((API_PREFIX, OPEN311_PREFIX)):
        return None
    photo = settings.CASE_PHOTO_MAX_BYTES
    if _CASE_UPLOADS.fullmatch(path):
        return settings.CASE_PHOTO_MAX_COUNT * photo + UPLOAD_MARGIN
    if _OPEN311_UPLOADS.fullmatch(path):
        return photo + UPLOAD_MARGIN  # GeoReport's one `media` file
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return None if limit is None else int(limit)


def too_large(path: str, length: int, limit: int) -> HttpResponse:
    message = _("请求体为 %(size).1f MB，超过此接口的上限 %(max).1f MB。") % {
        "size": length / 2**20,
        "max": limit / 2**20,
    }
    return _refusal(path, 413, message, "too_large")


def _refusal(path: str, status: int, message: str, code: str) -> HttpResponse:
    if path.startswith(OPEN311_PREFIX):
        from open311.errors import Open311Error
        from open311.render import format_of, render_error

        return render_error(format_of(path), Open311Error.with_status(status, message))
    return json_error(status, message, code)


def _content_length(value: str | bytes | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def refusal(request: HttpRequest) -> HttpResponse | None:
    """The error a request gets before its view, or None to let it through."""
    limit = body_limit(request.path)
    if limit is None:
        return None
    length = _content_length(request.META.get("CONTENT_LENGTH"))
    if length is not None and length > limit:
        return too_large(request.path, length, limit)
    raw_path = request.META.get("PATH_INFO", "")
    query = request.META.get("QUERY_STRING", "")
    if "\x00" in raw_path or b"\x00" in unquote_to_bytes(query):
        message = _("地址或查询参数中含有 NUL 字符（\\0），无法处理。")
        return _refusal(request.path, 400, message, "invalid")
    charset = request.content_params.get("charset") if request.content_params else None
    if length and charset and charset.lower() not in _UTF8:
        message = _("请求体须为 UTF-8 编码，收到 charset=%(charset)s。") % {"charset": charset[:40]}
        return _refusal(request.path, 400, message, "bad_encoding")
    return None


@sync_and_async_middleware
def api_guard_middleware(
    get_response: Callable[[HttpRequest], Any],
) -> Callable[[HttpRequest], Any]:
    """Django's side of the guard (the test client, WSGI, and what only a parsed
    request shows). No I/O: the same checks serve both modes."""
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            return refusal(request) or await get_response(request)

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        return refusal(request) or get_response(request)

    return middleware


class BodySizeGuard:
    """ASGI wrapper: refuses an oversized body with 413 before Django reads it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (limit := body_limit(scope["path"])) is None:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = _content_length(headers.get(b"content-length"))
        if length is not None and length > limit:
            await _send(send, in_language(headers, lambda: too_large(scope["path"], length, limit)))
            return
        if scope["method"] == "POST" and _OPEN311_UPLOADS.fullmatch(scope["path"]):
            refused = await database_sync_to_async(_open311_key_refusal)(scope, headers)
            if refused is not None:
                await _send(send, refused)
                return
        received = 0

        async def counted() -> Message:
            # A chunked body has no length to check beforehand: stop it where it passes.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = in_language(
                        headers, lambda: too_large(scope["path"], received, limit)
                    )
                    await _send(send, refused)
                    return {"type": "http.disconnect"}  # Django drops the request
            return message

        await self.app(scope, counted, send)


def _open311_key_refusal(scope: Scope, headers: dict[bytes, bytes]) -> HttpResponse | None:
    """An Open311 POST whose query string names a wrong, revoked or unknown api_key is
    refused (403) before its body, a photo perhaps, is received. A key given in the form
    only can be checked once the form is read (open311.views)."""
    from open311.clients import client_for_key
    from open311.errors import Open311Error
    from open311.render import format_of, render_error

    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    secret = (query.get("api_key") or [""])[0].strip()
    if not secret:
        return None

    def check() -> HttpResponse | None:
        try:
            client_for_key(secret)
        except Open311Error as error:
            return render_error(format_of(scope["path"]), error)
        return None

    return in_language(headers, check)


def in_language(headers: dict[bytes, bytes], make: Callable[[], Made]) -> Made:
    """The response in the user's chosen language, as ChosenLanguageMiddleware picks it."""
    cookies = parse_cookie(headers.get(b"cookie", b"").decode("latin-1"))
    chosen = cookies.get(settings.LANGUAGE_COOKIE_NAME, "")
    language = chosen if translation.check_for_language(chosen) else settings.LANGUAGE_CODE
    with translation.override(language):
        response = make()
    if response is not None:
        response.headers["Content-Language"] = language
        response.headers["Connection"] = "close"  # the body is left unread
    return response


async def _send(send: Send, response: HttpResponse) -> None:
    headers = [
        (name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()
    ]
    headers.append((b"content-length", str(len(response.content)).encode()))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})
