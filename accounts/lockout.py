"""Lockout after repeated failed sign-ins (django-axes), per user and per address.

Every sign-in path passes through Django's authenticate() with the request (the login
page, the admin's login): the first authentication backend refuses a locked-out user or
address before any password is hashed, and axes counts each failure in the database
(AccessAttempt) and logs it (logger `axes`). The API has no password path of its own:
machine clients use API tokens (accounts.authentication), browsers the session.

A user is locked out after LOGIN_FAILURE_LIMIT failures; an address after
LOGIN_ADDRESS_FAILURE_LIMIT, higher because a city office signs in from behind one
address. Either lasts LOGIN_COOLOFF_MINUTES after the last failure.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off, get_failure_limit
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

log = logging.getLogger("axes.lockout")
# accounts.lockout.UserOrAddressHandler counts these two, in this order.
LOCKOUT_PARAMETERS = ["username", "ip_address"]


class LockoutBackend(AxesStandaloneBackend):
    """axes' check before the password backend. A call without a request is not a
    sign-in by a person (the test client, a shell): there is no address to count, so
    it is left to the next backend rather than refused."""

    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)  # type: ignore[no-any-return]


class UserOrAddressHandler(AxesDatabaseHandler):
    """axes' database handler with a limit per user and a higher one per address."""

    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        by_user, by_address = (
            attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        if by_address >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            # axes compares one number with one limit: an address over its own limit
            # counts as a user at theirs.
            return max(by_user, get_failure_limit(request, credentials))
        return int(by_user)


def retry_after_seconds(request: HttpRequest) -> int:
    cool_off = get_cool_off(request)
    return math.ceil(cool_off.total_seconds()) if cool_off else 0


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """What a locked-out sign-in gets (the login page, the admin's): a page saying so,
    429 with Retry-After. The API has no sign-in by password to lock."""
    log.warning(
        "sign-in refused while locked out: user %r from %s at %s",
        request.POST.get("username", "")[:150],
        getattr(request, "axes_ip_address", None),
        request.path,
    )
    seconds = retry_after_seconds(request)
    minutes = max(1, math.ceil(seconds / 60))
    message = _("登录失败次数过多，已暂时锁定：请 %(minutes)d 分钟后再试，或请管理员解锁。") % {
        "minutes": minutes
    }
    context = {"message": message, "login_url": request.path}
    response = render(request, "accounts/locked_out.html", context, status=429)
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
