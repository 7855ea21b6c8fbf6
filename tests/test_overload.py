"""Overload fails fast (gridmgmt/overload.py): with the pool of connections exhausted or
PostgreSQL down, a request answers 503 with Retry-After within a second, in the shape
its caller expects; service returns by itself when the database does.

On real servers: uvicorn on the pytest database (pool exhausted by requests blocked on a
lock), and uvicorn on a PostgreSQL cluster of the test's own (tests/pgcluster.py), which
is stopped immediately under a request and started again."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from django.db import connection

from tests.pgcluster import Cluster, own_postgres, wait_for
from tests.servers import asgi_server

pytestmark = pytest.mark.django_db(transaction=True)

SERVICES = "/open311/v2/services.json"  # reads the catalogue, no key needed
LOCKED = "layers_category"
SESSION = {"Cookie": "sessionid=somebody"}  # a session to look up: the database is asked


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    done_at: float

    def json(self) -> Any:
        return json.loads(self.body)


def get(url: str, headers: dict[str, str] | None = None) -> Answer:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            status, head, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, head, body = error.code, error.headers, error.read()
    end = time.monotonic()
    headers = {name.lower(): value for name, value in head.items()}
    return Answer(status, headers, body, end - start, end)


def in_background(url: str, headers: dict[str, str] | None = None) -> list[Answer]:
    """Start a request in a thread; the list gets its answer."""
    answers: list[Answer] = []
    threading.Thread(target=lambda: answers.append(get(url, headers)), daemon=True).start()
    return answers


def waiting_on_locks(db: psycopg.Connection) -> int:
    query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    row = db.execute(query).fetchone()
    return int(row[0]) if row else 0


def assert_unavailable(answer: Answer, shape: str) -> None:
    assert answer.status == 503, answer.body[:300]
    assert answer.seconds < 1.0, f"answered after {answer.seconds:.2f} s"
    assert int(answer.headers["retry-after"]) > 0
    if shape == "open311":
        assert answer.headers["content-type"].startswith("application/json")
        [error] = answer.json()
        assert error["code"] == 503 and "数据库暂时不可用" in error["description"]
    elif shape == "api":
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.json() == {
            "detail": "数据库暂时不可用，请稍后重试。",
            "code": "unavailable",
            "field": None,
        }
    else:
        assert answer.headers["content-type"].startswith("text/html")
        assert "服务暂时不可用" in answer.body.decode()


def test_an_exhausted_pool_answers_503_at_once() -> None:
    settings = connection.settings_dict
    locker = psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], password=settings["PASSWORD"],
        host=settings["HOST"], port=settings["PORT"] or 5432, autocommit=True,
    )  # fmt: skip
    with asgi_server(DATABASE_POOL_SIZE="2") as url, locker:
        assert get(url + SERVICES).status == 200
        locker.execute("BEGIN")
        locker.execute(f"LOCK TABLE {LOCKED} IN ACCESS EXCLUSIVE MODE")
        # Two requests wait on the lock, each holding one of the pool's two connections.
        blocked = [in_background(url + SERVICES) for _ in range(2)]
        wait_for(lambda: waiting_on_locks(locker) == 2, timeout=10)

        assert_unavailable(get(url + SERVICES), "open311")
        assert_unavailable(get(url + "/api/cases/", SESSION), "api")
        assert_unavailable(get(url + "/map/", SESSION), "page")
        assert all(not answers for answers in blocked)  # still waiting: nobody was cut

        locker.execute("ROLLBACK")
        wait_for(lambda: all(blocked), timeout=10)
        assert [answers[0].status for answers in blocked] == [200, 200]
        assert get(url + SERVICES).status == 200


@pytest.fixture
def cluster() -> Any:
    with own_postgres() as made:
        yield made


def test_postgres_stopped_under_a_request_then_back_without_a_restart(cluster: Cluster) -> None:
    database = cluster.copy_test_database("gridmgmt_overload")
    with asgi_server(DATABASE_URL=database, DATABASE_POOL_SIZE="2") as url:
        assert get(url + SERVICES).status == 200
        locker = cluster.connect("gridmgmt_overload")
        locker.execute("BEGIN")
        locker.execute(f"LOCK TABLE {LOCKED} IN ACCESS EXCLUSIVE MODE")
        in_flight = in_background(url + SERVICES)
        wait_for(lambda: waiting_on_locks(locker) == 1, timeout=10)

        stopped_at = time.monotonic()
        cluster.stop("immediate")  # mid-request: its connection is cut
        wait_for(lambda: bool(in_flight), timeout=5)
        [cut] = in_flight
        cut.seconds = cut.done_at - stopped_at
        assert_unavailable(cut, "open311")

        # While it is down: every kind of caller is told at once, and told to come back.
        for _ in range(3):
            assert_unavailable(get(url + SERVICES), "open311")
            assert_unavailable(get(url + "/api/cases/", SESSION), "api")
            assert_unavailable(get(url + "/map/", SESSION), "page")
        xml = get(url + "/open311/v2/services.xml")
        assert xml.status == 503 and b"<errors><error><code>503</code>" in xml.body

        cluster.start()
        started_at = time.monotonic()
        wait_for(lambda: get(url + SERVICES).status == 200, timeout=15, step=0.2)
        recovered = time.monotonic() - started_at
        print(f"service back {recovered:.1f} s after PostgreSQL")
        # Every connection the pool hands out now works: none of the broken ones is back.
        assert [get(url + SERVICES).status for _ in range(10)] == [200] * 10
