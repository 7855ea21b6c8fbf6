"""Overload fails fast: when the database cannot be reached (PostgreSQL down, the pool
of connections exhausted, a connection broken under a request), answer 503 with
Retry-After at once, in the shape the caller expects, instead of a 500 after a wait.

Where the wait is bounded: settings.DATABASE_POOL_TIMEOUT (how long a request waits for
a pooled connection) and DATABASE_CONNECT_TIMEOUT. Where the error is caught: here, as
the first middleware, for errors raised by a view (process_exception) and for those
raised by another middleware (got_request_exception, sent while Django turns them into a
500). A connection that broke is not reused: the pool checks each connection before it
hands it out (CONN_HEALTH_CHECKS) and drops those whose server went away, and its
reconnection attempts give up after a few seconds so that the next request tries again
at once (settings.py): service comes back by itself when the database does.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape
from django.utils.translation import gettext as _

from open311.errors import Open311Error
from open311.render import Format, render_error

log = logging.getLogger(__name__)

UNAVAILABLE = (OperationalError, InterfaceError, psycopg.OperationalError)
API_PREFIX = "/api/"
OPEN311_PREFIX = "/open311/"
_MARK = "_gridmgmt_database_unavailable"


def database_unavailable(error: BaseException | None) -> bool:
    """Whether `error` says the database cannot be reached now (down, pool exhausted,
    connection lost), as opposed to a fault of the request or of the code."""
    return isinstance(error, UNAVAILABLE)


class ServiceUnavailable(Open311Error):
    status = 503


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: the API's error shape under /api/ (and for clients asking
    for JSON), Open311's under /open311/, a short page for everything else."""
    message = _("数据库暂时不可用，请稍后重试。")
    response: HttpResponse
    if request.path.startswith(OPEN311_PREFIX):
        fmt = Format.JSON if request.path.lower().endswith(".json") else Format.XML
        response = render_error(fmt, ServiceUnavailable(message))
    elif request.path.startswith(API_PREFIX) or "json" in request.headers.get("Accept", ""):
        body = {"detail": message, "code": "unavailable", "field": None}
        response = JsonResponse(body, status=503, json_dumps_params={"ensure_ascii": False})
    else:
        title = escape(_("服务暂时不可用"))
        page = (
            f'<!doctype html><html lang="zh-hans"><meta charset="utf-8"><title>{title}</title>'
            f"<h1>{title}</h1><p>{escape(message)}</p></html>"
        )
        response = HttpResponse(page, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(settings.OVERLOAD_RETRY_AFTER)
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
        return self._answer(request, self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        return self._answer(request, await self.get_response(request))

    def process_exception(self, request: HttpRequest, error: Exception) -> HttpResponse | None:
        """An error raised by the view (DRF's views re-raise what they do not know)."""
        if not database_unavailable(error):
            return None
        _log(request, error)
        return unavailable_response(request)

    def _answer(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if response.status_code == 500 and getattr(request, _MARK, False):
            return unavailable_response(request)
        return response


def _mark(sender: object, request: HttpRequest | None = None, **kwargs: object) -> None:
    # Sent by Django while it turns an error raised outside the view (in a middleware)
    # into a 500: the error is the one being handled.
    error = sys.exc_info()[1]
    if request is not None and database_unavailable(error):
        setattr(request, _MARK, True)
        _log(request, error)


def _log(request: HttpRequest, error: BaseException | None) -> None:
    cause = error.__cause__ if error is not None and error.__cause__ else error
    log.warning(
        "database unavailable, 503 for %s %s: %s: %s",
        request.method,
        request.path,
        type(cause).__name__,
        str(cause).strip().splitlines()[0] if str(cause).strip() else "",
    )


got_request_exception.connect(_mark, dispatch_uid="gridmgmt.overload")
