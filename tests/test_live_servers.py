"""The live map across server processes and through a Redis outage, on real uvicorn
servers and real Redis servers: an event caused through one process reaches a client of
another (with either channel layer); with Redis down, case changes still succeed and are
saved, and clients catch up from the outbox once it is back."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings
from websockets.exceptions import ConnectionClosed

from incidents.models import Case, Outbox
from incidents.outbox import publisher
from layers.models import Area
from map_ui.live.consumers import CLOSE_TRY_AGAIN
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, event_category
from tests.servers import asgi_server, free_port
from tests.test_live import (
    Live,
    closed_with,
    committed_report,
    layer_config,
    live,
    open_ws,
    server_env,
    session_cookie,
)

CSRF = "c" * 32  # a CSRF secret of the accepted form, sent as cookie and header


def http_report(base_url: str, user: User, city: dict[str, Area]) -> int:
    """An inspector's report through the server at `base_url`, as the phone sends it."""
    point = centre(city[INSPECTOR_CELL])
    body = {
        "client_uuid": str(uuid.uuid4()),
        "category": event_category("0101").pk,
        "description": "路边有一堆暴露垃圾",
        "lon": point.x,
        "lat": point.y,
        "datum": "wgs84",
    }
    request = urllib.request.Request(  # noqa: S310 -- the test's own server
        f"{base_url}/api/cases/reports/",
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            "Cookie": f"{session_cookie(user)}; csrftoken={CSRF}",
            "X-CSRFToken": CSRF,
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        assert response.status == 201
        return int(json.loads(response.read())["case"]["id"])


@pytest.mark.parametrize("layer", ["core", "pubsub"])
def test_an_event_caused_through_one_process_reaches_a_client_of_another(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    settings: Settings,
    layer: str,
) -> None:
    prefix = f"test-live2-{uuid.uuid4().hex[:12]}"
    settings.CHANNEL_LAYERS = layer_config(layer, prefix, settings.REDIS_URL)
    env = server_env(layer, prefix)
    with asgi_server(**env) as one, asgi_server(**env) as other:
        assert one != other
        with live(other, loop["city"]) as city, live(one, loop["inspector"]) as inspector:
            time.sleep(0.3)  # the resumes are answered
            case_id = http_report(one, loop["inspector"], small_city)
            seq = Outbox.objects.get(case_id=case_id).seq
            message = city.next(timeout=10)
            assert (message["type"], message["case"]["id"], message["seq"]) == (
                "event",
                case_id,
                seq,
            )
            assert inspector.next(timeout=10)["seq"] == seq  # and the process's own client


class RedisServer:
    """A redis-server of the test's own, to stop and start without disturbing others."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            ping = subprocess.run(  # noqa: S603
                [shutil.which("redis-cli") or "redis-cli", "-p", str(self.port), "ping"],
                capture_output=True,
                check=False,
            )
            if ping.stdout.strip() == b"PONG":
                return
            time.sleep(0.1)
        raise RuntimeError("the test's redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def private_redis(directory: Path) -> Iterator[RedisServer]:
    redis = RedisServer(directory)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


def reconnect(server: str, user: User, *, resume: int) -> Live:
    """Connect as a page does: again after "try again later", up to ten seconds."""
    deadline = time.monotonic() + 10
    while True:
        connection = open_ws(server, cookie=session_cookie(user))
        try:
            client = Live(connection)
        except ConnectionClosed as closed:
            connection.close()
            code = closed.rcvd.code if closed.rcvd else None
            if code != CLOSE_TRY_AGAIN or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
            continue
        client.resume(resume)
        return client


@pytest.mark.parametrize("layer", ["core", "pubsub"])
def test_with_redis_down_changes_are_saved_and_clients_catch_up_when_it_is_back(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    settings: Settings,
    tmp_path: Path,
    layer: str,
) -> None:
    with private_redis(tmp_path) as redis:
        prefix = f"test-live3-{uuid.uuid4().hex[:12]}"
        settings.CHANNEL_LAYERS = layer_config(layer, prefix, redis.url)
        env = server_env(layer, prefix, REDIS_URL=redis.url, LIVE_CATCHUP_SECONDS="2")
        with asgi_server(**env) as server:
            steady = live(server, loop["city"]).__enter__()
            time.sleep(0.3)
            last = steady.hello["last_seq"]
            redis.stop()

            # The change succeeds and is saved, with its event in the outbox.
            case_id = http_report(server, loop["inspector"], small_city)
            assert Case.objects.get(pk=case_id).state == "reported"
            missed = Outbox.objects.get(case_id=case_id)
            assert missed.seq == last + 1
            # No new connection while the channel layer is unreachable: try again later.
            with open_ws(server, cookie=session_cookie(loop["city"])) as refused:
                assert closed_with(refused) == CLOSE_TRY_AGAIN

            redis.start()
            # A client that reconnects (again after 1013, as the page does) and resumes
            # gets what it missed.
            back = reconnect(server, loop["city"], resume=last)
            message = back.next(timeout=10)
            assert (message["seq"], message["case"]["id"]) == (missed.seq, case_id)
            back.connection.close()
            # The client that stayed connected was dropped when the server's receive
            # from Redis failed (both layers): the page reconnects and resumes, as above.
            try:
                with pytest.raises(ConnectionClosed) as dropped:
                    steady.next(timeout=10)
                assert dropped.value.rcvd is not None and dropped.value.rcvd.code == 1011
            finally:
                steady.connection.close()


def test_an_event_its_process_could_not_publish_reaches_connected_clients_by_catch_up(
    transactional_db: None,
    loop: dict[str, User],
    small_city: dict[str, Area],
    settings: Settings,
) -> None:
    prefix = f"test-live4-{uuid.uuid4().hex[:12]}"
    env = server_env("core", prefix, LIVE_CATCHUP_SECONDS="1")
    with asgi_server(**env) as server, live(server, loop["city"]) as city:
        # This process cannot reach Redis (nothing listens on port 1); the server can.
        settings.CHANNEL_LAYERS = layer_config("core", prefix, "redis://127.0.0.1:1/0")
        failed = publisher.failed
        case_id = committed_report(loop["inspector"], small_city)
        assert publisher.failed == failed + 1
        message = city.next(timeout=5)  # within a catch-up period or two
        assert (message["case"]["id"], message["kind"]) == (case_id, "case.report")
        assert city.drain(quiet=2.5) == []  # later catch-ups do not send it again
