"""The locate endpoint's lean path (layers/api/locate_fast.py): over a real server its
answers are the DRF view's — status, body and headers — for points inside cells, on
their edges and corners, outside the city, in every datum and language; every other
request (bad input, no or a foreign session, no post, a rate limit reached) is Django's.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from django.test import Client, RequestFactory
from django.utils import timezone
from rest_framework.permissions import IsAuthenticated
from rest_framework.throttling import ScopedRateThrottle

from accounts.throttling import UserThrottle
from layers.api.locate import LocateView
from layers.api.locate_fast import MIDDLEWARE, LeanLocate
from layers.datum import Datum, from_storage, point_to_storage, to_storage
from layers.models import Area
from tests.cast import centre
from tests.cities import ORIGIN_LAT, ORIGIN_LON, STEP
from tests.servers import asgi_server

URL = "/api/layers/locate/"
# Set by the server, or by the connection: not the application's answer.
TRANSPORT = {"date", "server", "connection", "transfer-encoding"}


def _points(city: dict[str, Area]) -> list[tuple[float, float]]:
    """Stored points: every cell's centre, every corner of the grid's lattice (borders
    of cells, communities, streets, districts and the city's outline), points just
    inside and outside the outline, and far outside the city."""
    cells = sorted(code for code, area in city.items() if area.tier == "cell")
    points = [(centre(city[code]).x, centre(city[code]).y) for code in cells]
    points += [
        (round(ORIGIN_LON + i * STEP, 6), round(ORIGIN_LAT + j * STEP, 6))
        for i in range(9)
        for j in range(5)
    ]
    points += [(ORIGIN_LON + 1e-9, ORIGIN_LAT + 0.005), (ORIGIN_LON - 1e-9, ORIGIN_LAT + 0.005)]
    return [*points, (0.5, 0.5), (116.4, 39.9)]


def _session(user: User, language: str | None = None) -> str:
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return f"{cookie}; {settings.LANGUAGE_COOKIE_NAME}={language}" if language else cookie


def _over_http(base: str, query: str, cookie: str | None, **headers: str) -> tuple[Any, ...]:
    sent = {"Cookie": cookie, **headers} if cookie else headers
    request = urllib.request.Request(f"{base}{URL}?{query}", headers=sent)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, _headers(answer.headers.items()), answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, _headers(refused.headers.items()), refused.read()


def _in_process(query: str, cookie: str | None, **headers: str) -> tuple[Any, ...]:
    """Django's answer: the whole middleware chain and the DRF view, in this process."""
    sent = {"Cookie": cookie, **headers} if cookie else headers
    answer = Client().get(f"{URL}?{query}", headers=sent)
    # As Django's WSGI handler sends them: the headers, then a Set-Cookie per cookie.
    cookies = [("Set-Cookie", c.output(header="").strip()) for c in answer.cookies.values()]
    return answer.status_code, _headers([*answer.items(), *cookies]), answer.content


def _headers(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in items:
        if name.lower() in TRANSPORT:
            continue
        if name.lower() == "content-security-policy":  # the same directives, any order
            value = sorted(part.strip() for part in value.split(";"))
        out[name.lower()] = value
    return out


def _differences(served: tuple[Any, ...], django: tuple[Any, ...]) -> dict[str, Any]:
    """What differs between two answers (status, headers, body), for the message."""
    names = set(served[1]) | set(django[1])
    out: dict[str, Any] = {
        n: (served[1].get(n), django[1].get(n))
        for n in names
        if served[1].get(n) != django[1].get(n)
    }
    if served[0] != django[0] or served[2] != django[2]:
        out["answer"] = (served[0], served[2][:300], django[0], django[2][:300])
    return out


def _queries(city: dict[str, Area]) -> list[str]:
    points = _points(city)
    queries = [urlencode({"lon": repr(x), "lat": repr(y)}) for x, y in points]
    lon, lat = np.array([p[0] for p in points]), np.array([p[1] for p in points])
    for datum, name in (
        (Datum.WGS84, "wgs84"),
        (Datum.GCJ02, "gcj02"),
        (Datum.GCJ02, "GCJ-02"),
        (Datum.BD09, "bd09"),
        (Datum.CGCS2000, "cgcs2000"),
    ):
        x, y = from_storage(lon, lat, datum)
        queries += [
            urlencode({"lon": repr(float(a)), "lat": repr(float(b)), "datum": name})
            for a, b in zip(x[::3], y[::3], strict=True)
        ]
    return queries


@pytest.mark.django_db(transaction=True)
def test_the_server_answers_as_the_view_does(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    Area.objects.filter(code="440106").update(name_en="Tianhe")
    Area.objects.filter(code__startswith="440106001001").update(name_en="Cell E")
    chinese, english = _session(loop["hotline"]), _session(loop["city"], "en")
    queries = _queries(small_city)
    with asgi_server() as base:
        for cookie in (chinese, english):
            _over_http(base, queries[0], cookie)  # the process reads the session once
            answered = {200: 0, 400: 0}
            for query in queries:
                served = _over_http(base, query, cookie)
                django = _in_process(query, cookie)
                assert served == django, (query, _differences(served, django))
                answered[served[0]] += 1
            assert answered[200] > 100 and answered[400] >= 2
        names = json.loads(_over_http(base, urlencode({"lon": 113.305, "lat": 23.105}), english)[2])
        assert names["district"]["name"] == "Tianhe" and names["cell"]["name"] == "Cell E"
        # That last answer was the lean path's: its statement (session, user and the
        # grid's stamp together, which Django's path never runs) is what the server's
        # connection ran.
        assert _last_statements_like("%CROSS JOIN layers_gridstamp%") >= 1


def _last_statements_like(pattern: str) -> int:
    """Other connections to this database whose latest statement's text matches."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND query LIKE %s",
            [pattern],
        )
        (count,) = cursor.fetchone()
    return int(count)


@pytest.mark.django_db(transaction=True)
def test_refusals_are_the_views_own(loop: dict[str, User], small_city: dict[str, Area]) -> None:
    hotline, nobody = _session(loop["hotline"]), _session(loop["nobody"])
    expired = _session(loop["street"])
    good = urlencode({"lon": 113.305, "lat": 23.105})
    bad = [
        "lat=23.1",
        "lon=113.3",
        "lon=abc&lat=23.1",
        "lon=113.3&lat=NaN",
        "lon=inf&lat=23.1",
        "lon=1e400&lat=23.1",
        "lon=113.3&lat=91",
        "lon=-181&lat=23.1",
        "lon=113.3,1&lat=23.1",
        "lon=0x10&lat=23.1",
        "lon=113.3&lat=23.1&datum=mars",
        "lon=2.35&lat=48.85&datum=gcj02",
        "lon=113.3%00&lat=23.1",
        f"{good}&format=json",
        f"{good}&lon=abc",
    ]
    with asgi_server() as base:
        for cookie in (hotline, nobody, expired):
            _over_http(base, good, cookie)  # the sessions are known to the process
        Session.objects.filter(session_key=expired.split("=", 1)[1]).update(
            expire_date=timezone.now()
        )
        cases: list[tuple[str, str | None, dict[str, str]]] = [(q, hotline, {}) for q in bad]
        cases += [
            (good, None, {}),  # anonymous
            (good, nobody, {}),  # signed in, no post
            (good, expired, {}),
            (good, "sessionid=" + "x" * 32, {}),  # no such session
            (good, hotline, {"Accept": "application/json; indent=2"}),
            (good, hotline, {"Authorization": "Token nonsense"}),
        ]
        statuses = set()
        for query, who, headers in cases:
            served = _over_http(base, query, who, **headers)
            django = _in_process(query, who, **headers)
            assert served == django, (query, who, headers, _differences(served, django))
            statuses.add(served[0])
    assert {400, 403}.issubset(statuses) and statuses.isdisjoint({500})


@contextmanager
def _connections_kept() -> Iterator[None]:
    # Django's test client does the same: a request's signals would close the test's
    # connection, and with it the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


class _Django:
    """Stands for Django's application: counts what the lean path handed on."""

    def __init__(self) -> None:
        self.app = get_wsgi_application()
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.calls += 1
        return self.app(environ, start_response)


def _call(lean: LeanLocate, query: dict[str, Any], cookie: str) -> tuple[str, bytes]:
    environ = RequestFactory().get(URL, query, HTTP_COOKIE=cookie).environ
    started: list[str] = []
    result = lean(environ, lambda status, headers: started.append(status))
    body = b"".join(result)
    getattr(result, "close", lambda: None)()
    return started[0], body


@pytest.mark.django_db
def test_the_plain_success_is_served_without_django(
    loop: dict[str, User], small_city: dict[str, Area], settings: Any
) -> None:
    django = _Django()
    lean = LeanLocate(django)
    cookie = _session(loop["hotline"])
    point = {"lon": 113.305, "lat": 23.105}
    with _connections_kept():
        first = _call(lean, point, cookie)  # the session is not known yet: Django
        assert django.calls == 1
        assert _call(lean, point, cookie) == first
        assert django.calls == 1 and first[0] == "200 OK"
        for refused in ({"lon": 0.5, "lat": 0.5}, {"lon": "x", "lat": 23.1}):
            assert _call(lean, refused, cookie)[0] == "400 Bad Request"
        assert django.calls == 3
        # The user's rate reached: Django counts and refuses, as before.
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"user": "1/min", "anon": "1/min"},
        }
        answers = [_call(lean, point, cookie)[0] for _ in range(3)]
        assert answers[-1] == "429 Too Many Requests"
        assert django.calls >= 4


def test_a_changed_middleware_list_turns_the_lean_path_off(settings: Any) -> None:
    assert LeanLocate(_Django()).paths == {URL, "/api/geocode/locate/"}
    settings.MIDDLEWARE = [m for m in MIDDLEWARE if "clickjacking" not in m]
    assert LeanLocate(_Django()).paths == frozenset()
    settings.MIDDLEWARE = list(MIDDLEWARE)
    settings.SESSION_SAVE_EVERY_REQUEST = True  # every request writes its session
    assert LeanLocate(_Django()).paths == frozenset()


def test_a_changed_view_turns_the_lean_path_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert LeanLocate(_Django()).paths
    monkeypatch.setattr(LocateView, "throttle_classes", [UserThrottle, ScopedRateThrottle])
    assert LeanLocate(_Django()).paths == frozenset()
    monkeypatch.undo()
    monkeypatch.setattr(LocateView, "permission_classes", [IsAuthenticated])
    assert LeanLocate(_Django()).paths == frozenset()


def test_one_gcj02_point_converts_as_the_arrays_do() -> None:
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(70, 140, 5000), rng.uniform(0, 56, 5000)  # in China and not
    x, y = to_storage(lon, lat, Datum.GCJ02)
    for k in range(len(lon)):
        assert point_to_storage(lon[k], lat[k], Datum.GCJ02) == (x[k], y[k])
