"""The session and its user in one statement (gridmgmt/sessions.py), and one object by its
lookup field through a kept statement (gridmgmt/kept_lookup.py): docs/performance.md,
"Request floor". Nothing about the user is kept between requests, so a user deactivated,
a password changed or a session ended is refused at the very next request."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.db import connection
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from gridmgmt import sessions
from gridmgmt.kept_lookup import get_by_field, plain
from layers.models import Category

pytestmark = pytest.mark.django_db


@pytest.fixture
def category() -> Category:
    Category.objects.create(kind="event", major_code="98", name="其他甲", time_limit=3)
    return Category.objects.create(
        kind="event", major_code="99", minor_code="01", name="测试", name_en="Test", time_limit=2
    )


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def user_of(session_key: str) -> Any:
    """request.user as the middleware chain's session and user middleware make it."""
    request = RequestFactory().get("/")
    request.COOKIES["sessionid"] = session_key
    from django.contrib.sessions.middleware import SessionMiddleware

    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    sessions.UserWithSessionMiddleware(lambda r: HttpResponse()).process_request(request)
    return request.user


def statements(captured: CaptureQueriesContext) -> list[str]:
    return [query["sql"] for query in captured.captured_queries]


def test_after_its_first_request_a_session_comes_with_its_user_in_one_statement(
    category: Category,
) -> None:
    user = User.objects.create_user("floor-one", password="x-Secret-1")
    client = signed_in(user)
    path = f"/api/layers/categories/{category.pk}/"
    with CaptureQueriesContext(connection) as first:
        assert client.get(path).status_code == 200
    with CaptureQueriesContext(connection) as later:
        answer = client.get(path)
    assert answer.status_code == 200 and answer.json()["id"] == category.pk
    # First: the session, then the user; later: both at once, then the row.
    assert [("django_session" in sql, "auth_user" in sql) for sql in statements(first)] == [
        (True, False),
        (False, True),
        (False, False),
    ]
    assert [("django_session" in sql, "auth_user" in sql) for sql in statements(later)] == [
        (True, True),
        (False, False),
    ]


def test_a_user_deactivated_is_refused_at_the_next_request(category: Category) -> None:
    user = User.objects.create_user("floor-gone", password="x-Secret-1")
    client = signed_in(user)
    path = f"/api/layers/categories/{category.pk}/"
    assert client.get(path).status_code == 200
    assert client.get(path).status_code == 200  # the user now comes with the session
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert client.get(path).status_code == 403
    User.objects.filter(pk=user.pk).update(is_active=True)
    assert client.get(path).status_code == 200


def test_a_password_changed_elsewhere_ends_the_session_at_the_next_request(
    category: Category,
) -> None:
    user = User.objects.create_user("floor-pw", password="x-Secret-1")
    client = signed_in(user)
    key = client.cookies["sessionid"].value
    path = f"/api/layers/categories/{category.pk}/"
    assert client.get(path).status_code == 200
    assert client.get(path).status_code == 200
    user.set_password("y-Secret-2")
    user.save(update_fields=["password"])
    assert client.get(path).status_code == 403
    assert not Session.objects.filter(session_key=key).exists()  # flushed by Django


def test_a_session_signed_out_or_expired_is_no_session(category: Category) -> None:
    user = User.objects.create_user("floor-out", password="x-Secret-1")
    path = f"/api/layers/categories/{category.pk}/"
    client = signed_in(user)
    assert client.get(path).status_code == 200
    assert client.get(path).status_code == 200
    client.logout()
    assert client.get(path).status_code == 403

    client = signed_in(user)
    key = client.cookies["sessionid"].value
    assert client.get(path).status_code == 200
    Session.objects.filter(session_key=key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    assert client.get(path).status_code == 403


def test_the_user_read_with_the_session_is_only_the_users_the_session_names() -> None:
    owner = User.objects.create_user("floor-owner", password="x-Secret-1")
    other = User.objects.create_user("floor-other", password="x-Secret-1")
    key = signed_in(owner).cookies["sessionid"].value
    assert user_of(key).pk == owner.pk  # learns the session's user
    assert sessions._users_of_sessions[key] == owner.pk
    sessions._users_of_sessions[key] = other.pk  # a wrong guess (never made by the code)
    with CaptureQueriesContext(connection) as captured:
        user = user_of(key)
        assert user.pk == owner.pk and user.username == "floor-owner"
    assert len(captured) == 2  # the session (with the other's row, unused), then the owner
    assert Session.objects.get(session_key=key).get_decoded()[SESSION_KEY] == str(owner.pk)


def test_the_kept_lookup_answers_what_the_orm_answers(category: Category) -> None:
    everything = Category.objects.all().order_by("kind")
    assert plain(everything)
    kept = get_by_field(everything, "pk", str(category.pk))
    assert kept == Category.objects.get(pk=category.pk)
    assert {f.attname: getattr(kept, f.attname) for f in Category._meta.concrete_fields} == {
        f.attname: getattr(category, f.attname) for f in Category._meta.concrete_fields
    }
    assert not kept._state.adding
    missing = (Category.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    for value in (str(missing), "abc", "1.5", ""):
        with pytest.raises(Http404):
            get_by_field(everything, "pk", value)


def test_a_queryset_of_its_own_goes_through_the_orm(category: Category) -> None:
    others = Category.objects.exclude(pk=category.pk)
    assert not plain(others)
    assert not plain(Category.objects.none())
    assert not plain(Category.objects.all()[:5])
    assert not plain(Category.objects.values("pk"))
    assert not plain(Category.objects.only("name"))
    assert not plain(Category.objects.annotate(n=Count("pk")))
    assert not plain(Category.objects.select_for_update())
    with pytest.raises(Http404):
        get_by_field(others, "pk", str(category.pk))
    with pytest.raises(Http404):
        get_by_field(Category.objects.none(), "pk", str(category.pk))
    assert get_by_field(Category.objects.filter(pk=category.pk), "pk", category.pk) == category
