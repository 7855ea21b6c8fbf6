"""The live map's WebSocket (docs/websocket.md) against a real uvicorn server on the test
database: authentication by session and by token, the origin check, close codes, events
only for those who may see them and once each, resume from the outbox in sequence order
with the live events that follow, and "reload" when the gap is too big."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import time_machine
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin, Subprotocol

from incidents.access import live_audience
from incidents.models import Case, Outbox
from incidents.outbox import last_seq, publisher, replay, sequence
from layers.models import Area, Role, Staff, Tier, Unit
from map_ui.live.checks import session_of
from map_ui.live.consumers import (
    CLOSE_BAD_MESSAGE,
    CLOSE_FORBIDDEN,
    CLOSE_POST_CHANGED,
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHENTICATED,
    LiveConsumer,
)
from map_ui.live.models import LiveTicket
from map_ui.live.tokens import PROTOCOL, TOKEN_PREFIX, make_token, read_token
from tests.loop import INSPECTOR2_CELL, OTHER_STREET_CELL, act, add_staff, report
from tests.servers import asgi_server

# Groups of this module only: other test runs and servers share the Redis.
PREFIX = f"test-live-{uuid.uuid4().hex[:12]}"
RESUME_WAIT = 3.0  # seconds the server holds live events for a resume
MAX_EVENTS = 5  # a replay longer than this is a reload


def layer_config(layer: str, prefix: str, redis_url: str) -> dict[str, Any]:
    backend = {
        "core": "channels_redis.core.RedisChannelLayer",
        "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    }[layer]
    host = {**settings.CHANNEL_REDIS_HOST, "address": redis_url}  # its timeouts too
    return {"default": {"BACKEND": backend, "CONFIG": {"hosts": [host], "prefix": prefix}}}


def server_env(layer: str = "core", prefix: str = PREFIX, **extra: str) -> dict[str, str]:
    return {
        "CHANNEL_LAYER": layer,
        "CHANNEL_LAYER_PREFIX": prefix,
        "LIVE_RESUME_WAIT": str(RESUME_WAIT),
        "LIVE_REPLAY_MAX_EVENTS": str(MAX_EVENTS),
        "LIVE_CATCHUP_SECONDS": "0",
        **extra,
    }


@pytest.fixture(autouse=True)
def own_channel_layer(settings: Settings) -> None:
    """The publisher of this process sends where the server's consumers listen."""
    settings.CHANNEL_LAYERS = layer_config("core", PREFIX, settings.REDIS_URL)


@pytest.fixture(scope="module")
def server(django_db_setup: None) -> Iterator[str]:
    with asgi_server(**server_env()) as url:
        yield url


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


class Live:
    """A map client: its connection and the hello it got."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.hello = self.next()
        assert self.hello["type"] == "hello", self.hello

    def next(self, timeout: float = 5.0) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.connection.recv(timeout=timeout))
        return message

    def resume(self, last: int | None) -> None:
        self.connection.send(json.dumps({"type": "resume", "last_seq": last}))

    def drain(self, quiet: float = 1.0) -> list[dict[str, Any]]:
        """Every message until none came for `quiet` seconds."""
        received = []
        try:
            while True:
                received.append(self.next(timeout=quiet))
        except TimeoutError:
            return received


def open_ws(
    base_url: str, *, cookie: str = "", token: str = "", origin: str | None = None, query: str = ""
) -> ClientConnection:
    """A connection as a browser opens it: a token is offered as a subprotocol, next to
    the protocol's name (map_ui/static/map_ui/live.js)."""
    ws = base_url.replace("http://", "ws://") + "/ws/live/" + query
    headers = {"Cookie": cookie} if cookie else {}
    offered = [Subprotocol(PROTOCOL), Subprotocol(TOKEN_PREFIX + token)] if token else None
    # legacy=True: the connection itself, closed by the caller (or its `with`).
    connection = connect(
        ws,
        origin=Origin(origin or base_url),
        additional_headers=headers,
        subprotocols=offered,
        open_timeout=10,
        legacy=True,
    )
    return connection


@contextmanager
def live(base_url: str, user: User, *, resume: int | bool | None = None) -> Iterator[Live]:
    """A connected client of `user`; sends resume(`resume`) unless `resume` is False."""
    with open_ws(base_url, cookie=session_cookie(user)) as connection:
        client = Live(connection)
        if resume is not False:
            client.resume(None if resume is True else resume)
        yield client


def closed_with(connection: ClientConnection) -> int | None:
    try:
        connection.recv(timeout=5)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    raise AssertionError("the connection stayed open")


def committed_report(user: User, city: dict[str, Area], **kwargs: Any) -> int:
    """Report a case (committed: transactional_db) and wait until its event was sent."""
    response = report(user, city, **kwargs)
    assert response.status_code == 201, response.json()
    publisher.flush()
    return int(response.json()["case"]["id"])


# --- tokens and refusals ----------------------------------------------------------------


def test_a_token_is_signed_and_short_lived(db: None) -> None:
    token = make_token(42, "0f1e2d3c")
    assert read_token(token) == (42, "0f1e2d3c")
    # Sent as a subprotocol name, so it must be an HTTP token (RFC 6455, 4.1).
    assert re.fullmatch(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+", TOKEN_PREFIX + token)
    assert read_token(token + "x") is None
    assert read_token("42") is None
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=301)):
        assert read_token(token) is None  # LIVE_TOKEN_MAX_AGE = 300 s


def test_token_view_needs_a_login_and_the_token_opens_the_socket(
    transactional_db: None, loop: dict[str, User], server: str
) -> None:
    anonymous = Client().get("/map/live/token/")
    assert anonymous.status_code == 403
    client = Client()
    client.force_login(loop["inspector"])
    response = client.get("/map/live/token/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["expires_in"] == 300
    assert read_token(body["token"]) == (loop["inspector"].pk, LiveTicket.objects.get().key)
    # The token names its session's ticket, never the session key itself.
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert LiveTicket.objects.get().session_key == session_key
    assert session_key not in body["token"]
    with open_ws(server, token=body["token"]) as connection:
        assert connection.subprotocol == PROTOCOL
        hello = Live(connection).hello
        assert hello == {"type": "hello", "last_seq": last_seq()}
    with open_ws(server, token=body["token"][:-2] + "xx") as connection:
        assert connection.subprotocol == PROTOCOL  # accepted, so the close code shows
        assert closed_with(connection) == CLOSE_UNAUTHENTICATED
    # Not in the URL, where access logs would keep it.
    with open_ws(server, query=f"?token={body['token']}") as connection:
        assert closed_with(connection) == CLOSE_UNAUTHENTICATED


def test_refusals_have_their_close_codes(
    transactional_db: None, loop: dict[str, User], server: str
) -> None:
    with open_ws(server) as connection:
        assert closed_with(connection) == CLOSE_UNAUTHENTICATED
    for username in ("nobody", "data_admin"):  # signed in, but may see no case
        with open_ws(server, cookie=session_cookie(loop[username])) as connection:
            assert closed_with(connection) == CLOSE_FORBIDDEN, username
    with live(server, loop["city"], resume=False) as client:
        client.connection.send("hello?")
        assert closed_with(client.connection) == CLOSE_BAD_MESSAGE
    with live(server, loop["city"], resume=False) as client:
        client.connection.send(json.dumps({"type": "resume", "last_seq": -1}))
        assert closed_with(client.connection) == CLOSE_BAD_MESSAGE
    # A page of another site cannot open it with the user's cookie: no handshake at all.
    with pytest.raises(InvalidStatus) as refused:
        open_ws(server, cookie=session_cookie(loop["city"]), origin="http://evil.example")
    assert refused.value.response.status_code == 403


class HalfwayLayer(InMemoryChannelLayer):
    """A channel layer whose Redis goes away after the first group was joined."""

    async def group_add(self, group: str, channel: str) -> None:
        if self.groups:
            raise OSError("Redis went away")
        await super().group_add(group, channel)


def test_a_join_that_fails_halfway_leaves_no_group_behind(
    transactional_db: None, loop: dict[str, User], settings: Settings
) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "tests.test_live.HalfwayLayer"}}
    layer = get_channel_layer()
    street = loop["street"]  # two groups: its area's and its unit's

    signed_in = Client()
    signed_in.force_login(street)
    session = session_of(signed_in.cookies[settings.SESSION_COOKIE_NAME].value)

    async def as_street(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = {**scope, "user": street, "session": session}
        return await LiveConsumer.as_asgi()(scope, receive, send)

    async def connect_and_leave() -> dict[str, Any]:
        scope = {"type": "websocket", "path": "/ws/live/", "headers": [], "query_string": b""}
        communicator = ApplicationCommunicator(as_street, scope)
        await communicator.send_input({"type": "websocket.connect"})
        assert (await communicator.receive_output())["type"] == "websocket.accept"
        closed: dict[str, Any] = await communicator.receive_output()
        await communicator.send_input({"type": "websocket.disconnect", "code": closed["code"]})
        await communicator.wait()
        return closed

    assert async_to_sync(connect_and_leave)() == {
        "type": "websocket.close",
        "code": CLOSE_TRY_AGAIN,
    }
    assert isinstance(layer, HalfwayLayer) and layer.groups == {}


# --- live events ------------------------------------------------------------------------


def test_a_connection_is_closed_at_the_next_tick_when_its_users_access_changes(
    transactional_db: None, loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    # Changes made behind the application's back (no notice is sent): the process's
    # tick (LIVE_RECHECK_SECONDS, 2 s by default) reads every socket's access and
    # closes them within seconds (closed_with waits 5 s).
    with asgi_server(**server_env(LIVE_RESUME_WAIT="0.5")) as url:
        signed_in = Client()
        signed_in.force_login(loop["street"])
        cookie = signed_in.cookies[settings.SESSION_COOKIE_NAME].value
        with open_ws(url, cookie=f"{settings.SESSION_COOKIE_NAME}={cookie}") as connection:
            Live(connection).resume(None)
            Session.objects.filter(session_key=cookie).delete()  # expired, or deleted
            assert closed_with(connection) == CLOSE_UNAUTHENTICATED

        with live(url, loop["district"]) as district:
            User.objects.filter(pk=loop["district"].pk).update(is_active=False)
            assert closed_with(district.connection) == CLOSE_UNAUTHENTICATED

        with live(url, loop["department"]) as department:
            Staff.objects.filter(user=loop["department"]).update(role=Role.DATA_ADMIN)
            assert closed_with(department.connection) == CLOSE_FORBIDDEN

        # Moved to the office of the next street: the page holds the old street's cases
        # and must reload; the connection it opens then gets the new street's events.
        reporter = add_staff(
            "inspector3", Role.INSPECTOR, loop["inspector"].staff.unit,
            [small_city[OTHER_STREET_CELL]],
        )  # fmt: skip
        next_street = Unit.objects.get(area__code=OTHER_STREET_CELL[:9], tier=Tier.STREET)
        with live(url, loop["street"]) as street:
            Staff.objects.filter(user=loop["street"]).update(unit=next_street)
            assert closed_with(street.connection) == CLOSE_POST_CHANGED
        with live(url, loop["street"]) as street:
            time.sleep(0.7)  # the resume is answered
            old = committed_report(loop["inspector"], small_city)
            new = committed_report(reporter, small_city, cell=OTHER_STREET_CELL)
            assert [m["case"]["id"] for m in street.drain()] == [new]
            assert old != new

        # A new password ends the sessions it did not update (as Django's own check).
        with live(url, loop["city"]) as city:
            user = User.objects.get(pk=loop["city"].pk)
            user.set_password("another-password-1")
            user.save(update_fields=["password"])
            assert closed_with(city.connection) == CLOSE_UNAUTHENTICATED


def test_events_reach_those_who_may_see_them_once_each(
    transactional_db: None, loop: dict[str, User], small_city: dict[str, Area], server: str
) -> None:
    with (
        live(server, loop["inspector"]) as inspector,
        live(server, loop["inspector2"]) as inspector2,
        live(server, loop["street"]) as street,
        live(server, loop["city"]) as city,
    ):
        time.sleep(0.3)  # the resumes (null) are answered: events are no longer held
        case_id = committed_report(loop["inspector"], small_city)
        first = inspector.next()
        assert first["type"] == "event" and first["kind"] == "case.report"
        assert first["case"]["id"] == case_id and first["case"]["state"] == "reported"
        assert first["seq"] == Outbox.objects.get(case_id=case_id).seq
        assert set(first["case"]) >= {"lon", "lat", "category", "cell_id", "due_at"}
        assert city.next() == first

        # Filed and dispatched to the street office: its events reach the street user
        # through the area group and through the unit group, and go out once.
        assert act(loop["street"], case_id, "file").status_code == 200
        assert act(loop["street"], case_id, "dispatch").status_code == 200
        publisher.flush()
        dispatched = Outbox.objects.filter(case_id=case_id).latest("seq")
        assert loop["street"].staff.unit_id in dispatched.unit_ids
        got = street.drain()
        assert [m["kind"] for m in got] == ["case.report", "case.file", "case.dispatch"]
        assert got[-1]["seq"] == dispatched.seq

        # inspector2 saw none of it: the first thing it gets is its own report.
        own = committed_report(loop["inspector2"], small_city, cell=INSPECTOR2_CELL)
        message = inspector2.next()
        assert message["case"]["id"] == own
        assert inspector2.drain(quiet=0.5) == []
        assert [m["case"]["id"] for m in inspector.drain(quiet=0.5)] == [case_id, case_id]


def test_without_a_resume_live_events_flow_after_the_wait(
    transactional_db: None, loop: dict[str, User], small_city: dict[str, Area], server: str
) -> None:
    with live(server, loop["city"], resume=False) as city:
        case_id = committed_report(loop["inspector"], small_city)
        start = time.monotonic()
        message = city.next(timeout=RESUME_WAIT + 5)
        assert message["case"]["id"] == case_id
        assert time.monotonic() - start > RESUME_WAIT / 2  # it was held, then released


def test_a_quiet_connection_stays_open(
    transactional_db: None, loop: dict[str, User], small_city: dict[str, Area], server: str
) -> None:
    # Longer than the Redis client's default read timeout (5 s), which once dropped
    # every idle map client (gridmgmt.settings.CHANNEL_REDIS_HOST).
    with live(server, loop["city"]) as city:
        assert city.drain(quiet=7.0) == []
        case_id = committed_report(loop["inspector"], small_city)
        assert city.next()["case"]["id"] == case_id


def test_resume_replays_what_was_missed_then_live_events_follow_without_gaps(
    transactional_db: None, loop: dict[str, User], small_city: dict[str, Area], server: str
) -> None:
    with live(server, loop["inspector"]) as before:
        last = before.hello["last_seq"]
    # While the inspector is away: two changes it may see, one it may not.
    mine = committed_report(loop["inspector"], small_city)
    assert act(loop["street"], mine, "file").status_code == 200
    committed_report(loop["inspector2"], small_city, cell=INSPECTOR2_CELL)
    publisher.flush()
    with live(server, loop["inspector"], resume=False) as back:
        # A change that commits after connecting but before the resume is answered.
        second = committed_report(loop["inspector"], small_city)
        back.resume(last)
        got = back.drain()
        # Then a live one.
        third = committed_report(loop["inspector"], small_city)
        got += back.drain(quiet=0.5)
    expected = Outbox.objects.filter(case_id__in=[mine, second, third]).order_by("seq")
    assert [m["seq"] for m in got] == list(expected.values_list("seq", flat=True))
    assert [m["kind"] for m in got] == ["case.report", "case.file", "case.report", "case.report"]
    assert [m["case"]["id"] for m in got] == [mine, mine, second, third]


def test_a_gap_too_big_to_replay_asks_for_a_reload_and_live_events_go_on(
    transactional_db: None, loop: dict[str, User], small_city: dict[str, Area], server: str
) -> None:
    with live(server, loop["city"]) as before:
        last = before.hello["last_seq"]
    for _ in range(MAX_EVENTS + 1):
        committed_report(loop["inspector"], small_city)
    with live(server, loop["city"], resume=last) as back:
        assert back.next() == {"type": "reload", "reason": "too_many"}
        assert back.drain(quiet=0.5) == []  # the map reloads; nothing is replayed
        case_id = committed_report(loop["inspector"], small_city)
        assert back.next()["case"]["id"] == case_id
    with live(server, loop["city"], resume=last + 10_000) as ahead:
        assert ahead.next() == {"type": "reload", "reason": "unknown_seq"}


# --- the replay itself ------------------------------------------------------------------


def test_replay_is_filtered_ordered_and_bounded(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    start = last_seq()
    ids = [report(loop["inspector"], small_city).json()["case"]["id"] for _ in range(3)]
    other = report(loop["inspector2"], small_city, cell=INSPECTOR2_CELL).json()["case"]["id"]
    sequence()  # the numbering after commit (the test's transaction never commits)
    day = dt.timedelta(days=1)

    def run(user: str, after: int = start, max_events: int = 10, **kw: Any) -> Any:
        return replay(live_audience(loop[user]), after=after, max_events=max_events, **kw)

    mine = run("inspector", max_age=day)
    assert [e["case"]["id"] for e in mine["events"]] == ids and mine["reload"] == ""
    assert mine["upto"] == start + 4
    assert [e["case"]["id"] for e in run("inspector2", max_age=day)["events"]] == [other]
    assert [e["case"]["id"] for e in run("city", max_age=day)["events"]] == [*ids, other]
    assert run("city", max_events=3, max_age=day)["reload"] == "too_many"
    assert run("city", after=start + 9, max_age=day)["reload"] == "unknown_seq"
    nothing = run("city", after=start + 4, max_age=day)
    assert nothing == {"events": [], "upto": start + 4, "reload": ""}
    skipped = run("city", max_age=day, skip={start + 1, start + 2})["events"]
    assert [e["seq"] for e in skipped] == [start + 3, start + 4]
    # The first missed event is older than the limit: reload.
    Outbox.objects.filter(seq=start + 1).update(at=timezone.now() - 2 * day)
    assert run("city", max_age=day)["reload"] == "too_old"
    assert run("city", after=start + 1, max_age=day)["reload"] == ""
    # Pruned from the outbox: too old as well.
    Outbox.objects.filter(seq=start + 1).delete()
    assert run("city", max_age=day)["reload"] == "too_old"
    assert Case.objects.count() == 4
