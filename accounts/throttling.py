"""Request rate limits of the API (DRF throttles), counted in Redis through Django's cache.

A fixed window per client: one atomic INCR per request on a key that expires with its
window (DRF's own throttles keep a list of every request's time and rewrite it whole on
each request, read-modify-write, so that concurrent requests lose counts). A client over
its rate gets 429 with Retry-After until its window ends. Rates are
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] ("N/s", "N/min", "N/h", "N/day"), read on each
request; a scope without a rate is not limited.

If Redis cannot be reached the request is let through and the fault logged: a limit
that fails closed would turn a Redis outage into an outage of the whole API.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

log = logging.getLogger(__name__)
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'120/min' → (120, 60)."""
    number, period = rate.split("/")
    return int(number), PERIODS[period.strip()[0]]


class WindowThrottle(BaseThrottle):
    """Allows `rate` requests per window to each client named by client_key()."""

    scope = ""

    def client_key(self, request: Any, view: Any) -> str | None:
        """Who is counted; None: this throttle does not apply to the request."""
        raise NotImplementedError

    def allow_request(self, request: Any, view: Any) -> bool:
        self.retry_after: int | None = None
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        who = self.client_key(request, view) if isinstance(rate, str) else None
        if not isinstance(rate, str) or who is None:
            return True
        allowed, window = parse_rate(rate)
        now = time.time()
        start = int(now // window * window)
        key = f"throttle:{self.scope}:{who}:{start}"
        try:
            cache.add(key, 0, timeout=window + 1)
            count = cache.incr(key)
        except (RedisError, OSError, ValueError) as error:
            # ValueError: the key expired between add and incr (at a window's edge).
            log.warning("throttle %s not counted: %s", self.scope, error)
            return True
        if count <= allowed:
            return True
        self.retry_after = max(1, int(start + window - now) + 1)
        return False

    def wait(self) -> float | None:
        return self.retry_after


class UserThrottle(WindowThrottle):
    """A signed-in user (session or API token): per user, whatever the address."""

    scope = "user"

    def client_key(self, request: Any, view: Any) -> str | None:
        user = getattr(request, "user", None)
        return str(user.pk) if user is not None and user.is_authenticated else None


class AnonThrottle(WindowThrottle):
    """Requests without a user: per address."""

    scope = "anon"

    def client_key(self, request: Any, view: Any) -> str | None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return None
        return self.get_ident(request)
