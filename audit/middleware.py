"""AuditMiddleware: the request's client for the audit trail, and two entries written
once the response is ready — the personal data the request showed unmasked (one row per
request, however many records), and every write through the API or Open311 with its
outcome (the record of a case action's origin; what changed is the case history)."""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
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
            if _worth_recording(request, trace):
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
        if _worth_recording(request, trace):
            _record(request, response, trace)
        return response

    return sync_middleware


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


def _worth_recording(request: HttpRequest, trace: Trace) -> bool:
    return bool(trace.personal_reads) or _is_write(request)


def outcome_of(status: int) -> Outcome:
    if status < 400:
        return Outcome.SUCCESS
    if status in (401, 403, 404):
        return Outcome.DENIED
    if status < 500:
        return Outcome.FAILED
    return Outcome.ERROR


def _record(request: HttpRequest, response: HttpResponseBase, trace: Trace) -> None:
    outcome = outcome_of(response.status_code)
    where: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
    }
    if trace.personal_reads:
        # Recorded whatever the status: an error after the values were read may still
        # have shown them.
        audit_record(
            action=Action.PERSONAL_READ,
            outcome=outcome,
            request=request,
            detail={**where, "objects": personal_reads_detail(trace.personal_reads)},
        )
    if _is_write(request):
        object_type, object_id = _target(request)
        if _is_admin_bulk_action(request):
            selected = request.POST.getlist("_selected_action")
            where |= {"action": request.POST["action"], "selected": selected[:1000]}
        audit_record(
            action=Action.REQUEST_WRITE,
            outcome=outcome,
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
