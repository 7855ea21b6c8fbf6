"""The request floor (docs/performance.md, "Request floor"): HTTP is served by Django's
WSGI handler in one pool thread per request, a few requests running at once
(gridmgmt/wsgi_bridge.py), WebSockets by Channels on the same port; a ModelSerializer's
fields are built once per class."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.wsgi import get_wsgi_application
from django.utils.module_loading import import_string
from rest_framework import serializers

from gridmgmt.overload import busy
from gridmgmt.wsgi_bridge import SEND_CHUNK, RequestThreads, WsgiBridge
from layers.api.serializers import CategorySerializer
from layers.models import Category
from tests.loop import event_category
from tests.servers import asgi_server
from tests.test_live import Live, open_ws, session_cookie


def test_every_middleware_runs_in_the_request_thread() -> None:
    """Under the WSGI handler a middleware that cannot run synchronously would be
    wrapped in async_to_sync: a hop to an event loop and back on every request."""
    for path in settings.MIDDLEWARE:
        middleware = import_string(path)
        assert getattr(middleware, "sync_capable", True), path
    handler = get_wsgi_application()
    assert not asyncio.iscoroutinefunction(handler._middleware_chain)  # type: ignore[attr-defined]


def test_the_project_serves_http_through_the_bridge() -> None:
    from gridmgmt.asgi import application

    assert settings.HTTP_SERVING == "wsgi"
    guard = application.application_mapping["http"]
    bridge = guard.app
    assert isinstance(bridge, WsgiBridge)
    assert (bridge.busy, bridge.queue_wait) == (busy, settings.HTTP_QUEUE_WAIT)
    threads = bridge.threads
    assert (threads.running, threads.long_after) == (
        settings.HTTP_RUNNING,
        settings.HTTP_LONG_AFTER,
    )
    assert (
        threads.threads
        == settings.HTTP_THREADS
        > settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"]
        > threads.running
    )


def bridge(app: Any, threads: int = 2, running: int = 2, queue_wait: float = 10) -> WsgiBridge:
    return WsgiBridge(app, RequestThreads(threads, running, long_after=10), busy, queue_wait)


class Recorder:
    """A WSGI app that answers what it was sent and notes the threads it ran in."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.threads: list[int] = []
        self.environ: dict[str, Any] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        self.threads.append(threading.get_ident())
        self.environ = environ
        body = environ["wsgi.input"].read()
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-Seen", str(len(body)))])
        return self.answer(body)

    def answer(self, body: bytes) -> Iterator[bytes]:
        try:
            yield body
            yield from self.chunks
        finally:
            self.threads.append(threading.get_ident())  # close() runs in the same thread


def serve(bridge: WsgiBridge, scope: dict[str, Any], body: list[bytes]) -> list[dict[str, Any]]:
    incoming = [
        {"type": "http.request", "body": part, "more_body": n < len(body) - 1}
        for n, part in enumerate(body)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(dict(message))

    async def run() -> None:
        await bridge(scope, receive, send)

    asyncio.run(run())
    return sent


SCOPE = {
    "type": "http",
    "method": "POST",
    "path": "/api/放/",
    "root_path": "",
    "query_string": b"a=1",
    "scheme": "http",
    "http_version": "1.1",
    "server": ("127.0.0.1", 8000),
    "client": ("10.0.0.7", 5555),
    "headers": [
        (b"host", b"example.org"),
        (b"transfer-encoding", b"chunked"),
        (b"cookie", b"a=1"),
        (b"cookie", b"b=2"),
    ],
}


def test_a_chunked_body_arrives_whole_with_its_length() -> None:
    app = Recorder([])
    sent = serve(bridge(app), SCOPE, [b"abc", b"def", b"g"])
    start, body = sent
    assert start["status"] == 201
    assert (b"x-seen", b"7") in start["headers"]
    assert body == {"type": "http.response.body", "body": b"abcdefg"}
    env = app.environ
    assert env["CONTENT_LENGTH"] == "7"
    assert "HTTP_TRANSFER_ENCODING" not in env
    assert env["PATH_INFO"].encode("latin-1").decode() == "/api/放/"
    assert (env["QUERY_STRING"], env["REMOTE_ADDR"], env["HTTP_COOKIE"]) == ("a=1", "10.0.0.7",
                                                                           "a=1; b=2")  # fmt: skip
    (thread,) = set(app.threads)
    assert thread != threading.get_ident()  # served in a pool thread, whole


def test_a_streamed_response_is_sent_in_pieces_in_order() -> None:
    pieces = [bytes([n]) * (SEND_CHUNK // 2) for n in range(1, 6)]
    app = Recorder(pieces)
    sent = serve(bridge(app), SCOPE, [b""])
    assert sent[0]["type"] == "http.response.start"
    bodies = sent[1:]
    assert len(bodies) >= 3  # not held back whole
    assert all(m["more_body"] for m in bodies[:-1]) and not bodies[-1].get("more_body")
    assert b"".join(m["body"] for m in bodies) == b"".join(pieces)
    assert len(set(app.threads)) == 1


class Gate:
    """A callable that notes who came in and holds them until it is opened."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.opened = threading.Event()
        self.inside = 0
        self.most_inside = 0
        self.came = 0

    def __call__(self, hold: bool = True) -> None:
        with self.lock:
            self.came += 1
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        if hold:
            self.opened.wait(10)
        with self.lock:
            self.inside -= 1


def test_no_more_requests_run_at_once_than_the_limit() -> None:
    threads = RequestThreads(6, running=2, long_after=10)
    gate = Gate()
    works = [threads.submit(gate) for _ in range(6)]
    time.sleep(0.3)
    assert (gate.came, gate.inside) == (2, 2)  # the other four wait their turn
    gate.opened.set()
    for work in works:
        work.result(timeout=5)
    assert (gate.came, gate.most_inside) == (6, 2)


def test_a_long_request_stops_counting_and_the_next_starts_beside_it() -> None:
    threads = RequestThreads(3, running=1, long_after=0.05)
    gate = Gate()
    long = threads.submit(gate)
    quick = threads.submit(gate, False)
    quick.result(timeout=2)  # did not wait for the long one
    assert not long.done()
    gate.opened.set()
    long.result(timeout=5)
    # Its thread waits for a slot again: one request at a time, as before.
    gate.opened.clear()
    works = [threads.submit(gate) for _ in range(2)]
    time.sleep(0.02)  # less than long_after
    assert gate.inside == 1
    gate.opened.set()
    for work in works:
        work.result(timeout=5)


def test_an_error_in_a_request_reaches_the_loop_and_frees_its_thread() -> None:
    threads = RequestThreads(1, running=1, long_after=10)

    def fail() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        threads.submit(fail).result(timeout=5)
    threads.submit(lambda: None).result(timeout=5)


def test_a_request_no_thread_takes_in_time_is_answered_busy_in_its_shape() -> None:
    gate = Gate()

    def held(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        gate()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"done"]

    one_thread = bridge(held, threads=1, running=1, queue_wait=0.2)
    scope = {**SCOPE, "method": "GET", "headers": [(b"cookie", b"django_language=en")]}
    answers: dict[str, list[dict[str, Any]]] = {}

    async def request(name: str, path: str) -> None:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: Mapping[str, Any]) -> None:
            sent.append(dict(message))

        started = time.monotonic()
        await one_thread({**scope, "path": path}, receive, send)
        answers[name] = sent
        if name != "first":
            assert time.monotonic() - started < 1
            if name == "page":
                gate.opened.set()

    async def run() -> None:
        first = asyncio.ensure_future(request("first", "/api/x/"))
        await asyncio.sleep(0.05)
        await asyncio.gather(request("api", "/api/cases/"), request("page", "/map/"))
        await first

    asyncio.run(run())
    assert answers["first"][0]["status"] == 200
    assert answers["first"][1]["body"] == b"done"
    api, page = answers["api"], answers["page"]
    assert api[0]["status"] == page[0]["status"] == 503
    headers = dict(api[0]["headers"])
    assert headers[b"retry-after"] == str(settings.OVERLOAD_RETRY_AFTER).encode()
    assert headers[b"content-language"] == b"en"
    assert json.loads(api[1]["body"]) == {
        "detail": "The server is busy; try again shortly.",
        "code": "unavailable",
        "field": None,
    }
    assert b"<h1>Server busy</h1>" in page[1]["body"]
    time.sleep(0.1)
    assert gate.came == 1  # the refused requests never ran


@pytest.mark.django_db(transaction=True)
def test_http_and_a_websocket_on_the_same_origin(loop: dict[str, User]) -> None:
    category = event_category("0101")
    user = loop["city"]
    cookie = session_cookie(user)
    with asgi_server() as url:
        request = urllib.request.Request(  # noqa: S310 -- the test's own server
            f"{url}/api/layers/categories/{category.pk}/", headers={"Cookie": cookie}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            assert answer.status == 200
            assert answer.headers["Content-Language"] == "zh-hans"
            assert json.loads(answer.read())["code"] == category.code
        with open_ws(url, cookie=cookie) as connection:
            client = Live(connection)
            assert client.hello["type"] == "hello"
        # A page of the same server, rendered after the socket came and went.
        with urllib.request.urlopen(f"{url}/accounts/login/", timeout=10) as page:  # noqa: S310
            assert page.status == 200
            assert "<form" in page.read().decode()


@pytest.mark.django_db
def test_fields_built_once_serialize_as_drf_builds_them(loop: dict[str, User]) -> None:
    class PerInstance(serializers.ModelSerializer[Category]):
        code = serializers.CharField(read_only=True)

        class Meta:
            model = Category
            fields = CategorySerializer.Meta.fields
            read_only_fields = fields

    rows = list(Category.objects.order_by("pk")[:20])
    assert rows
    for row in rows:
        assert CategorySerializer(row).data == PerInstance(row).data
    one, other = CategorySerializer(rows[0]), CategorySerializer(rows[1])
    for name, field in one.fields.items():
        assert field is not other.fields[name]
        assert field.parent is one and other.fields[name].parent is other
        assert field.field_name == name


def test_a_rate_counter_counts_in_redis_and_expires_with_its_window() -> None:
    """accounts/throttling.py: one INCR a request; the window's first request gives the
    key its time to live, so that a window's count never outlives it."""
    from django.core.cache import cache

    from accounts.throttling import _count

    key = f"throttle:floor-test:{uuid.uuid4().hex}"
    name = cache.make_and_validate_key(key)
    redis = cache._cache.get_client(name, write=True)  # type: ignore[attr-defined]
    try:
        assert [_count(key, 61) for _ in range(3)] == [1, 2, 3]
        assert 59 <= redis.ttl(name) <= 61
        redis.expire(name, 5)  # later requests of the window leave its end alone
        assert _count(key, 61) == 4
        assert redis.ttl(name) <= 5
    finally:
        redis.delete(name)


@pytest.mark.django_db(transaction=True)
def test_geometries_on_a_connection_taken_again_from_the_pool() -> None:
    """gridmgmt/database/base.py registers PostGIS's adapters once per connection: a
    connection the pool hands out again still reads and writes geometries."""
    from django.contrib.gis.db.backends.postgis.adapter import PostGISAdapter
    from django.contrib.gis.geos import GEOSGeometry, Point
    from django.db import connection

    from gridmgmt.database import base

    assert getattr(connection, "pool", None) is not None
    for _ in range(3):
        connection.close()  # back to the pool
        connection.ensure_connection()
        assert connection.connection in base._with_geometry_adapters
        with connection.cursor() as cursor:
            point: Any = PostGISAdapter(Point(1, 2, srid=4326))
            cursor.execute("SELECT ST_Buffer(%s::geometry, 1)", [point])
            (outline,) = cursor.fetchone()
        # The point went out through PostGIS's dumper (without it psycopg cannot adapt
        # it); the outline comes back as EWKB text, which the ORM's converters read.
        outline = GEOSGeometry(outline)
        assert outline.srid == 4326 and outline.covers(Point(1, 2, srid=4326))
