"""Request rate limits of Open311 (/open311/v2/): per API key, and per address for
requests without one (reading public requests). Counted in Redis like the API's
(accounts.throttling); the rates are REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
"open311_key" and "open311_anon". Over its rate a client gets GeoReport's error list
with code 429, and Retry-After."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from accounts.throttling import WindowThrottle
from open311.clients import key_hash
from open311.errors import Open311Error
from open311.render import Format, render_error

View = Callable[..., HttpResponse]


class TooManyRequests(Open311Error):
    status = 429


class KeyThrottle(WindowThrottle):
    """Per API key (by its hash: the key itself is never written anywhere)."""

    scope = "open311_key"

    def client_key(self, request: Any, view: Any) -> str | None:
        secret = _api_key(request)
        return key_hash(secret)[:32] if secret else None


class AddressThrottle(WindowThrottle):
    """Per address, for requests without a key."""

    scope = "open311_anon"

    def client_key(self, request: Any, view: Any) -> str | None:
        return None if _api_key(request) else self.get_ident(request)


def _api_key(request: HttpRequest) -> str:
    # GeoReport puts the key in the form of a POST and the query of a GET.
    if request.method == "POST":
        return str(request.POST.get("api_key") or request.GET.get("api_key") or "").strip()
    return str(request.GET.get("api_key", "")).strip()


def throttled(view: View) -> View:
    """Wraps an Open311 endpoint (a view taking the request's Format): a client over its
    rate gets 429 in that format, with Retry-After, and the view is not run."""

    @functools.wraps(view)
    def limited(request: HttpRequest, fmt: Format, **kwargs: Any) -> HttpResponse:
        for throttle in (KeyThrottle(), AddressThrottle()):
            if not throttle.allow_request(request, None):
                seconds = int(throttle.wait() or 1)
                error = TooManyRequests(
                    _("请求过于频繁：请 %(seconds)d 秒后再试。") % {"seconds": seconds}
                )
                response = render_error(fmt, error)
                response["Retry-After"] = str(seconds)
                return response
        return view(request, fmt, **kwargs)

    return limited
