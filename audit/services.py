"""Writing audit events: one function, used by the sign-in hooks, the middleware, the
admin log hook and the exports."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from audit.context import MAX_IDS_PER_TYPE, Trace, current
from audit.models import Action, AuditEvent, Outcome

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.http import HttpRequest

USER_AGENT_MAX = 300


def client_of(request: HttpRequest | None) -> Trace:
    """The address and user agent of `request` (REMOTE_ADDR: behind a reverse proxy,
    uvicorn's --proxy-headers and --forwarded-allow-ips put the client's address there)."""
    if request is None:
        return current.get() or Trace(ip=None, user_agent="")
    agent = request.META.get("HTTP_USER_AGENT", "")
    return Trace(ip=request.META.get("REMOTE_ADDR") or None, user_agent=agent[:USER_AGENT_MAX])


def audit_record(
    *,
    action: Action,
    outcome: Outcome = Outcome.SUCCESS,
    request: HttpRequest | None = None,
    user: AbstractBaseUser | AnonymousUser | None = None,
    username: str = "",
    object_type: str = "",
    object_id: object = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event. Who: `user`, else the request's user; `username` names a
    user who is not one (a failed sign-in). Where from: the request, else the request
    being served."""
    if user is None and request is not None:
        user = getattr(request, "user", None)
    client = client_of(request)
    user_id = None
    if user is not None and user.is_authenticated:
        user_id = user.pk
        username = user.get_username()
    return AuditEvent.objects.create(
        user_id=user_id,
        username=username[:150],
        ip=client.ip,
        user_agent=client.user_agent,
        action=action,
        object_type=object_type,
        object_id=str(object_id)[:64],
        outcome=outcome,
        detail=detail or {},
    )


def personal_reads_detail(reads: dict[str, set[str]]) -> dict[str, Any]:
    """{"layers.person": {"count": 120, "ids": [...]}}, ids sorted and capped."""
    return {
        kind: {"count": len(ids), "ids": sorted(ids, key=_numeric_first)[:MAX_IDS_PER_TYPE]}
        for kind, ids in sorted(reads.items())
    }


def _numeric_first(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)
