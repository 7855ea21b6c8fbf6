"""GET /health/ (gridmgmt/health.py): database, Redis and the SLA worker's heartbeat, as
JSON, without login and without naming hosts or ports; 503 when any of them fails: a
stale or missing heartbeat, Redis refusing or hanging, PostgreSQL stopped (on a server
and cluster of the test's own)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from dispatch.models import WorkerHeartbeat
from tests.pgcluster import own_postgres, wait_for
from tests.servers import asgi_server, free_port


def health(client: Client | None = None) -> tuple[int, dict[str, Any], float]:
    start = time.monotonic()
    response = (client or Client()).get("/health/")
    seconds = time.monotonic() - start
    assert response["Content-Type"].startswith("application/json")
    return response.status_code, json.loads(response.content), seconds


def beat(seconds_ago: float) -> None:
    WorkerHeartbeat.beat("sla", at=timezone.now() - dt.timedelta(seconds=seconds_ago))


@pytest.mark.django_db
def test_healthy_when_all_answer_and_the_worker_beats() -> None:
    beat(5)
    status, body, _ = health()
    assert status == 200
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["redis"] == {"ok": True}
    worker = body["checks"]["sla_worker"]
    assert worker["ok"] and 5 <= worker["heartbeat_age_s"] < 60
    assert worker["stale_after_s"] == 60
    # Nothing for an anonymous caller to learn about the installation.
    text = json.dumps(body)
    for secret in ("127.0.0.1", "5432", "6379", "gridmgmt", "postgres"):
        assert secret not in text


@pytest.mark.django_db
def test_a_stale_or_missing_heartbeat_is_unhealthy(settings: Settings) -> None:
    status, body, _ = health()
    assert status == 503 and body["status"] == "unhealthy"
    assert body["checks"]["sla_worker"]["ok"] is False
    assert body["checks"]["sla_worker"]["heartbeat_age_s"] is None

    beat(61)
    status, body, _ = health()
    assert status == 503
    worker = body["checks"]["sla_worker"]
    assert worker["ok"] is False and worker["heartbeat_age_s"] >= 61
    assert "61 秒" in worker["error"]
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]

    settings.SLA_WORKER_STALE_AFTER = 120  # the limit is a setting
    assert health()[0] == 200


@pytest.mark.django_db
def test_redis_refusing_or_hanging_is_unhealthy_within_seconds(settings: Settings) -> None:
    beat(1)
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens
    status, body, seconds = health()
    assert status == 503 and body["checks"]["redis"] == {"ok": False, "error": "Redis 无法连接"}
    assert body["checks"]["database"]["ok"] and body["checks"]["sla_worker"]["ok"]

    with socket.socket() as hung:  # accepts connections, never answers (a stopped Redis)
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        settings.REDIS_URL = f"redis://127.0.0.1:{hung.getsockname()[1]}/0"
        status, body, seconds = health()
    assert status == 503 and body["checks"]["redis"]["ok"] is False
    assert seconds < 3


def get_json(url: str) -> tuple[int, dict[str, Any], float]:
    start = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return status, json.loads(body), time.monotonic() - start


@pytest.mark.django_db(transaction=True)
def test_postgres_down_is_unhealthy_and_back_is_healthy() -> None:
    with own_postgres() as cluster:
        database = cluster.copy_test_database("gridmgmt_health")
        with asgi_server(DATABASE_URL=database) as url:
            db = cluster.connect("gridmgmt_health")
            db.execute(
                "INSERT INTO dispatch_workerheartbeat (worker, beat_at, passes) "
                "VALUES ('sla', now(), 1)"
            )
            db.close()
            assert get_json(url + "/health/")[0] == 200

            cluster.stop("immediate")
            status, body, seconds = get_json(url + "/health/")
            assert status == 503 and seconds < 3
            assert body["checks"]["database"] == {"ok": False, "error": "数据库无法连接"}
            assert body["checks"]["sla_worker"]["ok"] is False
            assert body["checks"]["redis"] == {"ok": True}

            cluster.start()
            wait_for(lambda: get_json(url + "/health/")[0] == 200, timeout=15, step=0.2)
