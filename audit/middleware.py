"""AuditMiddleware: the request's client for the audit trail, and two entries written
once the response is ready — the personal data the request showed unmasked (one row per
request, however many records), and every write through the API or Open311 with its
outcome (the record of a case action's origin; what changed is the case history).

A view that writes in one transaction can record its own write inside it instead
(`atomic_write`): one commit per request, not two. It records only a success; a failed
request is rolled back, its row with it, and the middleware records it after."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.db import transaction
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.decorators import sync_and_async_middleware

from audit.context import Trace, current
from audit.models import Action, Outcome
from audit.services import audit_record, client_of, personal_reads_detail

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Writes under these paths are recorded by the middleware; the admin's are recorded
# from its change log (audit/receivers.py), sign-ins by their signals.
WRITE_PATHS = ("/api/", "/open311/")
# The admin logs a bulk action on several objects (delete_selected) with bulk_create,
# which sends no signal: the request that ran it is recorded here.
ADMIN_PATH = "/admin/"

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


@sync_and_async_middleware
def AuditMiddleware(get_response: Any) -> Any:
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponseBase:
            trace = client_of(request)
            token = current.set(trace)
            try:
                response = await get_response(request)
            finally:
                current.reset(token)
            if _worth_recording(request, response, trace):
                await sync_to_async(_record, thread_sensitive=True)(request, response, trace)
            return response

        return middleware

    def sync_middleware(request: HttpRequest) -> HttpResponseBase:
        trace = client_of(request)
        token = current.set(trace)
        try:
            response = get_response(request)
        finally:
            current.reset(token)
        if _worth_recording(request, response, trace):
            _record(request, response, trace)
        return response

    return sync_middleware


def atomic_write(view: View) -> View:
    """A view method `(self, request, …)` run in one transaction that, when it answers
    with success, writes its request's audit row in that same transaction (the
    middleware then leaves it out). An error rolls the row back with everything else,
    and the middleware records the failed request in its own transaction."""

    @functools.wraps(view)
    def wrapper(self: Any, request: Any, *args: Any, **kwargs: Any) -> HttpResponseBase:
        with transaction.atomic():
            response = view(self, request, *args, **kwargs)
            # A DRF Request wraps the HttpRequest the middleware sees.
            http: HttpRequest = getattr(request, "_request", request)
            trace = current.get()
            if trace is not None and response.status_code < 400 and _is_write(http):
                _record_write(http, response.status_code)
                trace.write_recorded = True
        return response

    return cast(View, wrapper)


def _is_write(request: HttpRequest) -> bool:
    if request.method in SAFE_METHODS:
        return False
    return request.path.startswith(WRITE_PATHS) or _is_admin_bulk_action(request)


def _is_admin_bulk_action(request: HttpRequest) -> bool:
    # The view has parsed the form already; reading it here costs nothing.
    return (
        request.method == "POST"
        and request.path.startswith(ADMIN_PATH)
        and bool(request.POST.get("action"))
        and "_selected_action" in request.POST
    )


def _worth_recording(request: HttpRequest, response: HttpResponseBase, trace: Trace) -> bool:
    return bool(trace.personal_reads) or _write_unrecorded(request, response, trace)


def _write_unrecorded(request: HttpRequest, response: HttpResponseBase, trace: Trace) -> bool:
    """A write the view did not record itself: any write but an atomic_write view's
    success (whose row committed with its changes)."""
    if not _is_write(request):
        return False
    return not (trace.write_recorded and response.status_code < 400)


def outcome_of(status: int) -> Outcome:
    if status < 400:
        return Outcome.SUCCESS
    if status in (401, 403, 404):
        return Outcome.DENIED
    if status < 500:
        return Outcome.FAILED
    return Outcome.ERROR


def _record(request: HttpRequest, response: HttpResponseBase, trace: Trace) -> None:
    if trace.personal_reads:
        # Recorded whatever the status: an error after the values were read may still
        # have shown them.
        audit_record(
            action=Action.PERSONAL_READ,
            outcome=outcome_of(response.status_code),
            request=request,
            detail={
                **_where(request, response.status_code),
                "objects": personal_reads_detail(trace.personal_reads),
            },
        )
    if _write_unrecorded(request, response, trace):
        _record_write(request, response.status_code)


def _where(request: HttpRequest, status: int) -> dict[str, Any]:
    return {"method": request.method, "path": request.path, "status": status}


def _record_write(request: HttpRequest, status: int) -> None:
    where = _where(request, status)
    object_type, object_id = _target(request)
    if _is_admin_bulk_action(request):
        selected = request.POST.getlist("_selected_action")
        where |= {"action": request.POST["action"], "selected": selected[:1000]}
    audit_record(
        action=Action.REQUEST_WRITE,
        outcome=outcome_of(status),
        request=request,
        object_type=object_type,
        object_id=object_id,
        detail=where,
    )


def _target(request: HttpRequest) -> tuple[str, str]:
    """The object a write named in its URL (a case's id, say): the resolved view's name
    and its first keyword argument."""
    match = request.resolver_match
    if match is None:
        return "", ""
    for value in match.kwargs.values():
        return match.view_name, str(value)
    return match.view_name, ""
