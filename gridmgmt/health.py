"""GET /health/: is this installation doing its work? The database answers, Redis (the
live map's channel layer) answers, and the SLA worker finished a pass recently (its
heartbeat, dispatch.models.WorkerHeartbeat, is younger than
settings.SLA_WORKER_STALE_AFTER). 200 when all hold, else 503; JSON by default (also
?format=text and ?format=openmetrics, from django-health-check).

No login, so it reveals nothing to keep: no host names, ports, versions or error texts
of the services, only what failed and the heartbeat's age. The checks run at once
(django-health-check's view), each with a short timeout: a hung Redis or an exhausted
pool gives a 503 within seconds, never a hanging monitor.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView
from redis.asyncio import Redis
from redis.exceptions import RedisError

from dispatch import holidays
from dispatch.models import WorkerHeartbeat
from gridmgmt import clock

TIMEOUT = dt.timedelta(seconds=2)


@dataclasses.dataclass
class DatabaseCheck(HealthCheck):
    timeout = TIMEOUT

    def __repr__(self) -> str:
        return "database"

    async def run(self) -> None:
        try:
            await sync_to_async(_select_one)()
        except DatabaseError as error:
            raise ServiceUnavailable(_("数据库无法连接")) from error


def _select_one() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


@dataclasses.dataclass
class RedisCheck(HealthCheck):
    timeout = TIMEOUT

    def __repr__(self) -> str:
        return "redis"

    async def run(self) -> None:
        seconds = TIMEOUT.total_seconds() / 2
        client = Redis.from_url(
            settings.REDIS_URL, socket_timeout=seconds, socket_connect_timeout=seconds
        )
        try:
            await client.ping()
        except (RedisError, OSError) as error:
            raise ServiceUnavailable(_("Redis 无法连接")) from error
        finally:
            await client.aclose()


@dataclasses.dataclass
class SlaWorkerCheck(HealthCheck):
    timeout = TIMEOUT
    # Seconds since the worker's last finished pass, for the report (None: never).
    age: float | None = dataclasses.field(default=None, repr=False)

    def __repr__(self) -> str:
        return "sla_worker"

    async def run(self) -> None:
        try:
            beat = await WorkerHeartbeat.objects.filter(worker="sla").afirst()
        except DatabaseError as error:
            raise ServiceUnavailable(_("无法读取心跳：数据库无法连接")) from error
        if beat is None:
            raise ServiceUnavailable(_("SLA 任务从未完成过一轮"))
        self.age = round(max(0.0, (clock.now() - beat.beat_at).total_seconds()), 1)
        limit = settings.SLA_WORKER_STALE_AFTER
        if self.age > limit:
            message = _("SLA 任务已 %(age)d 秒没有完成一轮（上限 %(limit)d 秒）")
            raise ServiceUnavailable(message % {"age": self.age, "limit": limit})


@dataclasses.dataclass
class CalendarCheck(HealthCheck):
    """Never fails: says how far ahead the working calendar is known, and warns when
    that is too short."""

    timeout = TIMEOUT
    known_until: dt.date | None = dataclasses.field(default=None, repr=False)
    days_ahead: int | None = dataclasses.field(default=None, repr=False)
    warning: str | None = dataclasses.field(default=None, repr=False)

    def __repr__(self) -> str:
        return "calendar"

    async def run(self) -> None:
        try:
            await sync_to_async(self._read)()
        except DatabaseError:
            self.warning = _("无法读取工作日历：数据库无法连接")

    def _read(self) -> None:
        self.known_until = holidays.known_until()
        self.days_ahead = holidays.days_known_ahead()
        self.warning = holidays.shortage_message()


class HealthView(HealthCheckView):
    checks = (DatabaseCheck, RedisCheck, SlaWorkerCheck, CalendarCheck)

    async def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response: HttpResponse = await super().get(request, *args, **kwargs)
        if response.status_code == 500:  # the library's "a check failed"
            response.status_code = 503
        return response

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        # JSON for every client, browsers included: there is no page to show.
        return self.render_to_response_json(kwargs.get("status", 200))

    def render_to_response_json(self, status: int) -> HttpResponse:
        checks: dict[str, dict[str, Any]] = {}
        for result in self.results:
            entry: dict[str, Any] = {"ok": result.error is None}
            if result.error is not None:
                entry["error"] = str(result.error.message)
            if isinstance(result.check, SlaWorkerCheck):
                entry["heartbeat_age_s"] = result.check.age
                entry["stale_after_s"] = settings.SLA_WORKER_STALE_AFTER
            if isinstance(result.check, CalendarCheck):
                until = result.check.known_until
                entry["known_until"] = until.isoformat() if until else None
                entry["days_ahead"] = result.check.days_ahead
                entry["min_days_ahead"] = settings.CALENDAR_MIN_DAYS_AHEAD
                if result.check.warning:
                    entry["warning"] = result.check.warning
            checks[repr(result.check)] = entry
        healthy = all(entry["ok"] for entry in checks.values())
        body = {"status": "ok" if healthy else "unhealthy", "checks": checks}
        return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
