"""Request rate limits of the API (DRF throttles), counted in Redis through Django's cache.

A fixed window per client: one atomic INCR per request on a key that expires with its
window, one round trip to Redis (DRF's own throttles keep a list of every request's
time and rewrite it whole on each request, read-modify-write, so that concurrent
requests lose counts). A client over
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
from django.core.cache.backends.redis import RedisCacheClient
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
            count = _count(key, window + 1)
        except (RedisError, OSError, ValueError) as error:
            # ValueError: without Redis, the key expired between add and incr.
            log.warning("throttle %s not counted: %s", self.scope, error)
            return True
        if count <= allowed:
            return True
        self.retry_after = max(1, int(start + window - now) + 1)
        return False

    def wait(self) -> float | None:
        return self.retry_after


def _count(key: str, timeout: int) -> int:
    """Counts one more request on `key` (created with `timeout` seconds to live) and
    returns the count. On Django's Redis cache: one INCR, and the first request of a
    window (count 1) sets the key's time to live (Redis's own rate-limiter pattern),
    where the cache's add() and incr() took three round trips (SET NX, EXISTS, INCR) and
    a pipeline of INCR and EXPIRE NX cost half as much again as one command in redis-py
    (71 against 46 µs, docs/performance.md "Request floor"). Should that EXPIRE fail, the
    key stays without one: its window is never counted again, so only its few bytes
    remain. On another cache backend (a test's local memory), add() and incr()."""
    if not isinstance(getattr(cache, "_cache", None), RedisCacheClient):
        cache.add(key, 0, timeout=timeout)
        return cache.incr(key)
    name = cache.make_and_validate_key(key)
    client = cache._cache.get_client(name, write=True)  # type: ignore[attr-defined]
    count = int(client.incr(name))
    if count == 1:
        client.expire(name, timeout)
    return count


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
