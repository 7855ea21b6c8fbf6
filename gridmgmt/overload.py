"""Overload fails fast: when the database cannot be reached (PostgreSQL down, the pool
of connections exhausted, a connection broken under a request), answer 503 with
Retry-After at once, in the shape the caller expects, instead of a 500 after a wait.

Where the wait is bounded: settings.DATABASE_POOL_TIMEOUT (how long a request waits for
a pooled connection), once per request: after a first failure, every later attempt of
the same request (a middleware asking for the session again, the audit entry of a
failed write) fails at once (the database backend, gridmgmt/database/base.py, asks
found_unavailable()). Without that, a write waited its 0.5 s two or three times and,
with 20 requests at once, answered after up to 5 s.

Where the error is caught: here, as the first middleware, for errors raised by a view
(process_exception) and for those raised by another middleware. Django turns the latter
into a 500 in the middleware's own wrapper (logged as "Internal Server Error" with its
traceback, the 500 handler run), and sends got_request_exception first: the receiver
below raises the error again from there, so that it travels up to this middleware,
which answers the 503 and logs one warning line ("database unavailable: 503 for ...").

A connection that broke is not reused: the pool checks each connection before it
hands it out (CONN_HEALTH_CHECKS) and drops those whose server went away, and its
reconnection attempts give up after a few seconds so that the next request tries again
at once (settings.py): service comes back by itself when the database does.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import psycopg
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from open311.errors import Open311Error
from open311.render import Format, render_error

log = logging.getLogger(__name__)

UNAVAILABLE = (OperationalError, InterfaceError, psycopg.OperationalError)
API_PREFIX = "/api/"
OPEN311_PREFIX = "/open311/"


class _Request:
    """What the request being served has met: the first error saying the database is
    unavailable. Shared by the threads a request runs in (the context is copied into
    each, the object is the same)."""

    __slots__ = ("error",)

    def __init__(self) -> None:
        self.error: BaseException | None = None


_current: ContextVar[_Request | None] = ContextVar("gridmgmt_overload", default=None)


def found_unavailable() -> BaseException | None:
    """The error by which the request being served found the database unavailable, if
    it did (None outside requests: workers and consumers wait and retry as they do)."""
    state = _current.get()
    return state.error if state is not None else None


def in_request() -> bool:
    """Whether a request served through DatabaseUnavailableMiddleware is running."""
    return _current.get() is not None


def note_unavailable(error: BaseException) -> None:
    """Remember for the rest of the request that the database is unavailable."""
    state = _current.get()
    if state is not None and state.error is None and database_unavailable(error):
        state.error = error


def database_unavailable(error: BaseException | None) -> bool:
    """Whether `error` says the database cannot be reached now (down, pool exhausted,
    connection lost), as opposed to a fault of the request or of the code."""
    return isinstance(error, UNAVAILABLE)


class ServiceUnavailable(Open311Error):
    status = 503


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: the API's error shape under /api/ (and for clients asking
    for JSON), Open311's under /open311/, a short page for everything else."""
    return _refusal(request, _("数据库暂时不可用，请稍后重试。"), _("服务暂时不可用"))


def busy(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """A WSGI application: the server's answer to a request that found no thread free in
    time (gridmgmt/wsgi_bridge.py), 503 as unavailable_response shapes it, in the user's
    language. It runs on the event loop: no database, no session."""
    from gridmgmt.errors_middleware import in_language

    request = WSGIRequest(environ)
    cookie = environ.get("HTTP_COOKIE", "").encode("latin-1")
    response = in_language(
        {b"cookie": cookie},
        lambda: _refusal(request, _("服务器繁忙，请稍后重试。"), _("服务器繁忙")),
    )
    log.warning("server busy: 503 for %s %s (no thread free in time)", request.method, request.path)
    headers = [*response.items(), ("Content-Length", str(len(response.content)))]
    start_response(f"{response.status_code} {response.reason_phrase}", headers)
    return [response.content]


def _refusal(request: HttpRequest, message: str, title: str) -> HttpResponse:
    response: HttpResponse
    if request.path.startswith(OPEN311_PREFIX):
        fmt = Format.JSON if request.path.lower().endswith(".json") else Format.XML
        response = render_error(fmt, ServiceUnavailable(message))
    elif request.path.startswith(API_PREFIX) or "json" in request.headers.get("Accept", ""):
        body = {"detail": message, "code": "unavailable", "field": None}
        response = JsonResponse(body, status=503, json_dumps_params={"ensure_ascii": False})
    else:
        title = escape(title)
        page = (
            f'<!doctype html><html lang="{get_language()}"><meta charset="utf-8">'
            f"<title>{title}</title>"
            f"<h1>{title}</h1><p>{escape(message)}</p></html>"
        )
        response = HttpResponse(page, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(settings.OVERLOAD_RETRY_AFTER)
    # Logged by this module, as one warning line (_log): not again by Django's request
    # logger, as an error.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


class DatabaseUnavailableMiddleware:
    """First in MIDDLEWARE, so that it sees what every other layer answered."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.async_mode:
            return self._acall(request)
        state = _Request()
        token = _current.set(state)
        try:
            response = self.get_response(request)
        except UNAVAILABLE as error:  # raised again by _raise_again, from a middleware
            note_unavailable(error)
            response = unavailable_response(request)
        finally:
            _current.reset(token)
        return self._answer(request, response, state)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        state = _Request()
        token = _current.set(state)
        try:
            response = await self.get_response(request)
        except UNAVAILABLE as error:
            note_unavailable(error)
            response = unavailable_response(request)
        finally:
            _current.reset(token)
        return self._answer(request, response, state)

    def process_exception(self, request: HttpRequest, error: Exception) -> HttpResponse | None:
        """An error raised by the view (DRF's views re-raise what they do not know)."""
        if not database_unavailable(error):
            return None
        note_unavailable(error)
        return unavailable_response(request)

    def _answer(
        self, request: HttpRequest, response: HttpResponse, state: _Request
    ) -> HttpResponse:
        if state.error is None:
            return response
        if response.status_code >= 500 and response.status_code != 503:
            response = unavailable_response(request)  # a 500 of a later failure
        if response.status_code == 503:
            _log(request, state.error)
        return response


def _raise_again(sender: object, request: HttpRequest | None = None, **kwargs: object) -> None:
    # Sent by Django while it turns an error raised in a middleware into a 500, before it
    # runs the 500 handler and logs "Internal Server Error": the error is the one being
    # handled. Raised again, it leaves that middleware's wrapper and the next ones, up to
    # DatabaseUnavailableMiddleware. Only within a request that middleware serves.
    error = sys.exc_info()[1]
    if request is not None and _current.get() is not None and database_unavailable(error):
        assert error is not None
        note_unavailable(error)
        raise error


def _log(request: HttpRequest, error: BaseException) -> None:
    cause = error.__cause__ or error
    text = str(cause).strip()
    log.warning(
        "database unavailable: 503 for %s %s (%s: %s)",
        request.method,
        request.path,
        type(cause).__name__,
        text.splitlines()[0] if text else "",
    )


got_request_exception.connect(_raise_again, dispatch_uid="gridmgmt.overload")
