"""Authentication: lockout after repeated failed sign-ins (per user and per address, the
login page and the admin's), API tokens for machine clients (stored hashed, revocable,
expiring, issued by command and in the admin), HTTP Basic gone, and the request rate
limits of the API and of Open311 (counted in the real Redis)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.cookiejar
import io
import json
import logging
import re
import urllib.error
import urllib.request
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.tokens import token_issue
from layers.models import Area
from tests.browser import servable_passwords
from tests.loop import report
from tests.open311 import make_client
from tests.servers import asgi_server

PASSWORD = "gridmgmt-demo"  # what create_demo_users gives the cast
LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
LOCKED = "登录失败次数过多"


@pytest.fixture(autouse=True)
def own_counters(settings: Settings) -> None:
    """Rate counters of this test alone: a key prefix of its own in the shared Redis
    (user ids repeat from one test database to the next)."""
    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "KEY_PREFIX": f"test-auth-{uuid.uuid4().hex[:12]}",
        }
    }


def sign_in(username: str, password: str, *, path: str = LOGIN, address: str = "10.0.0.1") -> Any:
    client = Client(REMOTE_ADDR=address)
    return client.post(path, {"username": username, "password": password}), client


def fail(times: int, username: str, *, path: str = LOGIN, address: str = "10.0.0.1") -> None:
    """`times` failed sign-ins; all but the last answer the form again, with its error
    (the last may already answer the lockout)."""
    for n in range(times):
        response, _client = sign_in(username, "wrong-password", path=path, address=address)
        assert response.status_code == 200 or (n == times - 1 and response.status_code == 429)


# ---- lockout --------------------------------------------------------------------------


def test_a_user_is_locked_out_after_the_failure_limit_even_with_the_right_password(
    cast: dict[str, User], settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.AXES_FAILURE_LIMIT = 5
    fail(4, "street")
    response, client = sign_in("street", PASSWORD)
    assert response.status_code == 302  # four failures: still allowed in
    with caplog.at_level(logging.WARNING, logger="axes"):
        # A success does not clear the count: the fifth failure locks the user out.
        fail(1, "street")
        response, client = sign_in("street", PASSWORD)
    assert response.status_code == 429
    assert int(response["Retry-After"]) == 15 * 60
    page = response.content.decode()
    assert LOCKED in page and "15 分钟" in page
    assert "_auth_user_id" not in client.session  # not signed in
    # From another address too: the lockout is the user's.
    response, _ = sign_in("street", PASSWORD, address="10.9.9.9")
    assert response.status_code == 429
    # Each failure is recorded (admin: Axes) and logged, attempts while locked out too.
    failures = AccessFailureLog.objects.filter(username="street")
    assert failures.count() == 5 and failures.filter(locked_out=True).count() == 1
    logged = [r.getMessage() for r in caplog.records]
    assert any("Locking out" in m and "street" in m and "10.0.0.1" in m for m in logged)
    assert any("login failure" in m for m in logged)
    assert sum("refused while locked out" in m and "10.9.9.9" in m for m in logged) == 1
    # Other users still sign in.
    response, _ = sign_in("district", PASSWORD, address="10.9.9.9")
    assert response.status_code == 302


def test_the_lockout_ends_after_the_cool_off(cast: dict[str, User], settings: Settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        fail(3, "street")
        assert sign_in("street", PASSWORD)[0].status_code == 429
    with time_machine.travel(start + dt.timedelta(minutes=14), tick=False):
        assert sign_in("street", PASSWORD)[0].status_code == 429
    with time_machine.travel(start + dt.timedelta(minutes=16), tick=False):
        assert sign_in("street", PASSWORD)[0].status_code == 302


def test_an_address_is_locked_out_after_its_own_limit_across_users(
    cast: dict[str, User], settings: Settings
) -> None:
    settings.AXES_FAILURE_LIMIT = 5
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 8
    for username in ("street", "district", "city", "hotline"):
        fail(2, username, address="10.1.1.1")  # 2 each: no user reaches 5
    response, _ = sign_in("inspector", PASSWORD, address="10.1.1.1")
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    # The same user from another address is not locked out.
    assert sign_in("inspector", PASSWORD, address="10.2.2.2")[0].status_code == 302
    assert AccessAttempt.objects.filter(ip_address="10.1.1.1").count() == 4


def test_the_admin_login_is_locked_out_too(cast: dict[str, User], settings: Settings) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    fail(3, "admin", path=ADMIN_LOGIN)
    response, client = sign_in("admin", PASSWORD, path=ADMIN_LOGIN)
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert client.get("/admin/").status_code == 302  # still sent to the login
    # Failures on either page count together.
    response, _ = sign_in("admin", PASSWORD)
    assert response.status_code == 429


def test_the_lockout_holds_on_the_asgi_server(
    transactional_db: None, cast: dict[str, User]
) -> None:
    """Served as `make run` serves (uvicorn, ASGI, axes' middleware in its async mode)."""
    servable_passwords()
    with asgi_server(LOGIN_FAILURE_LIMIT="3") as url:
        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

        def post(password: str) -> tuple[int, str, str | None]:
            with browser.open(f"{url}{LOGIN}", timeout=10) as page:
                form = page.read().decode()
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
            assert token is not None
            body = urlencode(
                {"username": "street", "password": password, "csrfmiddlewaretoken": token[1]}
            ).encode()
            try:
                with browser.open(f"{url}{LOGIN}", data=body, timeout=10) as answer:
                    return answer.status, answer.read().decode(), None
            except urllib.error.HTTPError as refused:
                with refused:
                    return refused.code, refused.read().decode(), refused.headers["Retry-After"]

        assert post("wrong-1")[0] == 200
        assert post("wrong-2")[0] == 200
        status, page, retry_after = post("wrong-3")
        assert status == 429 and LOCKED in page and retry_after == str(15 * 60)
        status, page, _retry = post(PASSWORD)
        assert status == 429 and LOCKED in page


def test_thirty_wrong_passwords_then_the_right_one_is_refused(cast: dict[str, User]) -> None:
    """The issue's finding, with the settings' defaults."""
    for n in range(30):
        response, _ = sign_in("city", f"guess-{n}")
        assert response.status_code in (200, 429)
    response, _ = sign_in("city", PASSWORD)
    assert response.status_code == 429


# ---- API tokens ---------------------------------------------------------------------


def token_client(secret: str, scheme: str = "Token") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {secret}")
    return client


def case_ids(client: APIClient) -> list[int]:
    response = client.get("/api/cases/")
    assert response.status_code == 200, response.content[:300]
    return [row["id"] for row in response.json()["results"]]


def test_issue_api_token_prints_a_token_that_acts_as_its_user(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    assert report(loop["inspector"], small_city).status_code == 201
    out = io.StringIO()
    call_command("issue_api_token", "--user", "street", "--name", "nightly export", stdout=out)
    secret = out.getvalue().split(": ")[-1].strip()
    assert secret.startswith("gmt_") and len(secret) > 40
    session = APIClient()
    session.force_login(loop["street"])
    expected = case_ids(session)
    assert expected  # the street sees the inspector's report
    assert case_ids(token_client(secret)) == expected
    assert case_ids(token_client(secret, "Bearer")) == expected
    # Only the hash is stored.
    token = ApiToken.objects.get(name="nightly export")
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.user == loop["street"] and token.prefix == secret[:12]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        assert secret not in repr(cursor.fetchall())
    assert token.last_used_at is not None


def test_a_token_costs_two_queries_and_no_password_hash(
    loop: dict[str, User], django_assert_max_num_queries: Any, settings: Settings
) -> None:
    # A password hasher that fails the test if anything hashes a password.
    settings.PASSWORD_HASHERS = ["tests.test_auth.RefusingHasher"]
    secret = token_issue(user=loop["city"], name="probe").secret
    client = token_client(secret)
    client.get("/api/layers/categories/")  # notes the token's first use
    with django_assert_max_num_queries(4):  # token, user with post; then the view's own
        response = client.get("/api/layers/categories/?limit=1")
    assert response.status_code == 200


class RefusingHasher:
    algorithm = "refusing"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("a password was hashed")


@pytest.mark.parametrize("scheme", ["Token", "Bearer"])
def test_revoked_expired_unknown_and_malformed_tokens_are_refused(
    loop: dict[str, User], scheme: str
) -> None:
    revoked = token_issue(user=loop["city"], name="revoked")
    ApiToken.objects.filter(pk=revoked.token.pk).update(revoked_at=timezone.now())
    expired = token_issue(
        user=loop["city"], name="expired", expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    for secret in (revoked.secret, expired.secret, "gmt_not-a-token", "x" * 5000):
        response = token_client(secret, scheme).get("/api/cases/")
        assert response.status_code in (401, 403)
        assert "令牌无效" in response.json()["detail"]
    response = token_client("two parts", scheme).get("/api/cases/")
    assert response.status_code in (401, 403)
    assert "Authorization" in response.json()["detail"]


def test_a_deactivated_users_token_is_refused(loop: dict[str, User]) -> None:
    secret = token_issue(user=loop["city"], name="probe").secret
    assert token_client(secret).get("/api/cases/").status_code == 200
    User.objects.filter(username="city").update(is_active=False)
    response = token_client(secret).get("/api/cases/")
    assert response.status_code in (401, 403)
    assert "停用" in response.json()["detail"]


def test_http_basic_is_no_longer_accepted(loop: dict[str, User]) -> None:
    client = APIClient()
    basic = base64.b64encode(f"city:{PASSWORD}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {basic}")
    assert client.get("/api/cases/").status_code == 403


def test_the_admin_issues_a_token_once_and_revokes_it(loop: dict[str, User]) -> None:
    admin = Client()
    admin.force_login(User.objects.get(username="admin"))
    response = admin.post(
        "/admin/accounts/apitoken/add/", {"user": loop["city"].pk, "name": "city dashboard"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    token = ApiToken.objects.get(name="city dashboard")
    secret = page.split('<code id="api-token">')[1].split("</code>")[0]
    assert secret.startswith(token.prefix)
    assert token.created_by is not None and token.created_by.username == "admin"
    assert token_client(secret).get("/api/cases/").status_code == 200
    # The token's page never shows the secret again.
    change = admin.get(f"/admin/accounts/apitoken/{token.pk}/change/").content.decode()
    assert secret not in change and token.prefix in change
    response = admin.post(
        "/admin/accounts/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert "已吊销 1 个令牌" in response.content.decode()
    assert token_client(secret).get("/api/cases/").status_code == 403


# ---- rate limits --------------------------------------------------------------------


def rates(settings: Settings, **rates: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


def test_the_api_limits_requests_per_user_with_429_and_retry_after(
    loop: dict[str, User], settings: Settings
) -> None:
    rates(settings, user="3/min")
    secret = token_issue(user=loop["city"], name="probe").secret
    by_token, by_session = token_client(secret), APIClient()
    by_session.force_login(loop["city"])
    assert by_token.get("/api/cases/").status_code == 200
    assert by_session.get("/api/cases/").status_code == 200
    assert by_token.get("/api/cases/").status_code == 200
    # The fourth request of the same user, whichever way it signs in: 429.
    response = by_session.get("/api/cases/")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 61
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]
    # Another user is counted apart.
    other = APIClient()
    other.force_login(loop["district"])
    assert other.get("/api/cases/").status_code == 200


def test_the_api_limits_anonymous_requests_per_address(db: None, settings: Settings) -> None:
    rates(settings, anon="2/min")
    # drf-spectacular's schema is open to all: the one API answer without a sign-in.
    here, there = APIClient(REMOTE_ADDR="10.3.3.3"), APIClient(REMOTE_ADDR="10.4.4.4")
    assert here.get("/api/schema/", {"format": "json"}).status_code == 200
    assert here.get("/api/schema/", {"format": "json"}).status_code == 200
    response = here.get("/api/schema/", {"format": "json"})
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    # A spoofed X-Forwarded-For does not escape the count (no proxy is configured).
    forged = APIClient(REMOTE_ADDR="10.3.3.3", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert forged.get("/api/schema/", {"format": "json"}).status_code == 429
    assert there.get("/api/schema/", {"format": "json"}).status_code == 200


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_open311_limits_requests_per_key_in_its_own_error_shape(
    loop: dict[str, User], settings: Settings, fmt: str
) -> None:
    rates(settings, open311_key="2/min")
    _app, secret = make_client("rate probe")
    _other, other_secret = make_client("another app")
    client = Client()
    path = f"/open311/v2/requests.{fmt}"
    assert client.get(path, {"api_key": secret}).status_code == 200
    assert client.get(path, {"api_key": secret}).status_code == 200
    response = client.get(path, {"api_key": secret})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 61
    body = response.content.decode()
    if fmt == "json":
        (error,) = json.loads(body)
        assert error["code"] == 429 and "请求过于频繁" in error["description"]
    else:
        assert "<code>429</code>" in body and "请求过于频繁" in body
    # The same key filing (POST) is counted too; another key is not.
    post = client.post(path, {"api_key": secret, "service_code": "x"})
    assert post.status_code == 429
    assert client.get(path, {"api_key": other_secret}).status_code == 200


def test_open311_limits_requests_without_a_key_per_address(
    loop: dict[str, User], settings: Settings
) -> None:
    rates(settings, open311_anon="1/min")
    here, there = Client(REMOTE_ADDR="10.5.5.5"), Client(REMOTE_ADDR="10.6.6.6")
    assert here.get("/open311/v2/services.json").status_code == 200
    assert here.get("/open311/v2/services.json").status_code == 429
    assert there.get("/open311/v2/services.json").status_code == 200
