"""Writing audit events: one function, used by the sign-in hooks, the middleware, the
admin log hook and the exports."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from django.conf import settings

from audit.context import MAX_IDS_PER_TYPE, Trace, current
from audit.models import Action, AuditEvent, Outcome

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.http import HttpRequest

USER_AGENT_MAX = 300


def client_of(request: HttpRequest | None) -> Trace:
    """The address and user agent of `request`."""
    if request is None:
        return current.get() or Trace(ip=None, user_agent="")
    agent = request.META.get("HTTP_USER_AGENT", "")
    return Trace(ip=client_address(request), user_agent=agent[:USER_AGENT_MAX])


def client_address(request: HttpRequest) -> str | None:
    """REMOTE_ADDR; behind DJANGO_PROXY_COUNT proxies, the address that many hops from the
    right of X-Forwarded-For (as the lockout and the rate limits read it). Anything that
    is not an IP address is not recorded as one."""
    address = request.META.get("REMOTE_ADDR", "")
    proxies = getattr(settings, "PROXY_COUNT", 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",")]
        address = hops[-min(proxies, len(hops))]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


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
