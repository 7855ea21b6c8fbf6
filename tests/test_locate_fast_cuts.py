"""What the locate endpoint's lean path (layers/api/locate_fast.py) keeps or skips to
cost less: a session's sign-in remembered only for the data, password and secret it
was checked with; the statement on a pooled connection taken without Django's connect()
and given back at once, or on Django's connection whenever statements are logged.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from layers.api import locate_fast
from layers.api.locate_fast import LeanLocate
from layers.models import Area
from tests.test_locate_fast import _call, _connections_kept, _Django, _session

POINT = {"lon": 113.305, "lat": 23.105}


@pytest.mark.django_db
def test_a_sign_in_is_checked_again_for_a_new_password_or_secret(
    loop: dict[str, User], small_city: dict[str, Area], settings: Any
) -> None:
    django = _Django()
    lean = LeanLocate(django)
    hotline, city = loop["hotline"], loop["city"]
    first, second = _session(hotline), _session(city)
    with _connections_kept():
        for cookie in (first, second):
            _call(lean, POINT, cookie)  # the session is not known yet: Django
        assert django.calls == 2
        served = _call(lean, POINT, first)
        assert served[0] == "200 OK" and _call(lean, POINT, second) == served
        assert django.calls == 2  # both remembered as signed in

        # A new password: the session's hash no longer matches, Django refuses.
        hotline.set_password("another password")
        hotline.save()
        assert _call(lean, POINT, first)[0] == "403 Forbidden"
        assert django.calls == 3

        # A new secret: the session's signature no longer holds, Django refuses.
        settings.SECRET_KEY = "another secret " * 4
        assert _call(lean, POINT, second)[0] == "403 Forbidden"
        assert django.calls == 4


@pytest.mark.django_db
def test_logged_statements_include_the_lean_read(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    django = _Django()
    lean = LeanLocate(django)
    cookie = _session(loop["hotline"])
    with _connections_kept():
        _call(lean, POINT, cookie)  # the session is not known yet: Django
        with CaptureQueriesContext(connection) as captured:
            assert _call(lean, POINT, cookie)[0] == "200 OK"
    assert django.calls == 1
    assert [q["sql"] for q in captured.captured_queries if "layers_gridstamp" in q["sql"]]


@pytest.mark.django_db(transaction=True)
def test_the_read_takes_a_pooled_connection_and_gives_it_back(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    django = _Django()
    lean = LeanLocate(django)
    cookie = _session(loop["hotline"])
    expected = _call(lean, POINT, cookie)  # Django's answer; the session is now known
    assert _call(lean, POINT, cookie) == expected  # the lean path's, the grid now loaded
    pool: Any = getattr(connection, "pool")  # noqa: B009 (the PostgreSQL backend's)
    assert pool is not None
    outcome: dict[str, Any] = {}

    def serve() -> None:
        # A server's thread: no connection of its own when a request comes.
        outcome["before"] = connection.connection
        taken = pool.get_stats().get("requests_num", 0)
        outcome["answer"] = _call(lean, POINT, cookie)
        outcome["taken"] = pool.get_stats().get("requests_num", 0) - taken
        outcome["after"] = connection.connection
        outcome["checked out"] = [c for c in pool._pool if c.info.transaction_status]

    thread = threading.Thread(target=serve)
    thread.start()
    thread.join()
    assert outcome["answer"] == expected and expected[0] == "200 OK"
    assert django.calls == 1  # served by the lean path
    assert outcome["before"] is None and outcome["after"] is None  # Django's stayed closed
    assert outcome["taken"] == 1  # one connection taken from the pool for the read
    assert outcome["checked out"] == []  # and given back idle, no transaction left open
    assert locate_fast._signed  # the session's sign-in was checked, and remembered
