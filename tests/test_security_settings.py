"""HTTPS hardening, the Content-Security-Policy, the session's lifetime and the password
rules: switched on by the environment of docs/deployment.md, under which
`manage.py check --deploy` reports nothing; a real server under that environment
redirects to HTTPS and sends HSTS, secure cookies and the policy."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.test import Client

from gridmgmt.security import ContentSecurityPolicyMiddleware
from tests.servers import database_url, free_port

ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENT = ROOT / "docs" / "deployment.md"
PASSWORD = "gridmgmt-demo"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def production_environment() -> dict[str, str]:
    """The environment block of docs/deployment.md, its placeholders filled in, on this
    machine's database and Redis."""
    text = DEPLOYMENT.read_text()
    block = text.split("## Environment", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    env = dict(line.split("=", 1) for line in block.strip().splitlines())
    assert env["DJANGO_SECURE"] == "true" and env["DJANGO_SECRET_KEY"].startswith("<")
    env["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
    env["DATABASE_URL"] = database_url()
    # A role of its own for migrations (audit.W001): named only, `check` does not connect.
    env["DATABASE_OWNER_URL"] = "postgres://gridmgmt_owner:owner@127.0.0.1:5432/gridmgmt"
    env["REDIS_URL"] = settings.REDIS_URL
    return env


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CSP_"))}
    return subprocess.run(  # noqa: S603
        [sys.executable, *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


SHOW = """
import json, django
django.setup()
from django.conf import settings as s
names = ["SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
         "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
         "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_AGE", "CONTENT_SECURITY_POLICY",
         "CONTENT_SECURITY_POLICY_REPORT_ONLY"]
print(json.dumps({n: getattr(s, n, None) for n in names}, default=repr))
"""


def settings_under(**env: str) -> dict[str, Any]:
    done = run("-c", SHOW, env={"DJANGO_SETTINGS_MODULE": "gridmgmt.settings", **env})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_check_deploy_is_clean_under_the_documented_environment(db: None) -> None:
    done = run(
        "manage.py", "check", "--deploy", "--fail-level", "WARNING", env=production_environment()
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout
    # Without it, the same check warns of what the environment switches on.
    plain = run("manage.py", "check", "--deploy", env={})
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in plain.stdout + plain.stderr


def test_the_https_switches_come_from_the_environment() -> None:
    default = settings_under()
    assert default["SECURE_SSL_REDIRECT"] is False and default["SECURE_HSTS_SECONDS"] == 0
    assert default["SESSION_COOKIE_SECURE"] is False and default["SECURE_PROXY_SSL_HEADER"] is None
    assert default["SESSION_COOKIE_AGE"] == 9 * 3600  # a working day
    secure = settings_under(DJANGO_SECURE="true")
    assert secure["SECURE_SSL_REDIRECT"] and secure["SESSION_COOKIE_SECURE"]
    assert secure["CSRF_COOKIE_SECURE"] and secure["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert secure["SECURE_HSTS_INCLUDE_SUBDOMAINS"] and secure["SECURE_HSTS_PRELOAD"]
    # Each switch alone overrides the general one.
    trial = settings_under(
        DJANGO_SECURE="true", DJANGO_HSTS_SECONDS="3600", DJANGO_HSTS_PRELOAD="0"
    )
    assert trial["SECURE_HSTS_SECONDS"] == 3600 and trial["SECURE_HSTS_PRELOAD"] is False
    assert trial["SECURE_SSL_REDIRECT"] is True
    proxied = settings_under(DJANGO_PROXY_COUNT="1", SESSION_MAX_AGE="3600")
    assert proxied["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert proxied["SESSION_COOKIE_AGE"] == 3600


def test_the_policy_names_the_tile_server_and_can_be_report_only_or_off() -> None:
    tiles = settings_under(MAP_TILE_URL="https://tiles.example.gov.cn/{z}/{x}/{y}.png")
    images = tiles["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["img-src"]
    assert "https://tiles.example.gov.cn" in images and "'self'" in images
    # The live socket may be at another name of this server (docs/websocket.md's token).
    names = settings_under(DJANGO_ALLOWED_HOSTS="grid.example.gov.cn,.example.gov.cn,*")
    sockets = names["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["connect-src"]
    assert sockets == [
        "'self'",
        "ws://grid.example.gov.cn:*",
        "wss://grid.example.gov.cn:*",
        "ws://*.example.gov.cn:*",
        "wss://*.example.gov.cn:*",
    ]
    report = settings_under(CSP_MODE="report-only")
    assert report["CONTENT_SECURITY_POLICY"] is None
    assert report["CONTENT_SECURITY_POLICY_REPORT_ONLY"]["DIRECTIVES"]["script-src"]
    off = settings_under(CSP_MODE="off")
    assert off["CONTENT_SECURITY_POLICY"] is None is off["CONTENT_SECURITY_POLICY_REPORT_ONLY"]


@contextmanager
def production_server() -> Iterator[str]:
    """uvicorn under the production environment (tests.servers.asgi_server waits for a
    200 over plain HTTP, which this server never gives: it redirects to HTTPS)."""
    env = production_environment()
    env["DJANGO_ALLOWED_HOSTS"] += ",127.0.0.1"
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "gridmgmt.asgi:application"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CSP_"))}
    process = subprocess.Popen(  # noqa: S603
        command, cwd=ROOT, env={**base, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                OPENER.open(f"{url}/accounts/login/", timeout=2)
            except urllib.error.HTTPError as answer:
                answer.close()
                break  # it answers (with its redirect)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, "the server did not start within 30 s"
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()


def test_a_server_under_the_production_environment_is_https_only(django_db_setup: None) -> None:
    with production_server() as url:
        with pytest.raises(urllib.error.HTTPError) as redirect:
            OPENER.open(f"{url}/accounts/login/", timeout=10)
        assert redirect.value.code == 301
        assert redirect.value.headers["Location"].startswith("https://")
        redirect.value.close()
        # Through the proxy, which says the client came over HTTPS.
        proxied = urllib.request.Request(  # noqa: S310 - http://127.0.0.1
            f"{url}/accounts/login/",
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
        )
        with OPENER.open(proxied, timeout=10) as response:
            assert response.status == 200
            headers = response.headers
        assert headers["Strict-Transport-Security"] == (
            "max-age=31536000; includeSubDomains; preload"
        )
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        cookies = headers.get_all("Set-Cookie")
        assert any(c.startswith("csrftoken=") and "Secure" in c for c in cookies)


# ---- Content-Security-Policy ----------------------------------------------------------


def policy(response: Any) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


def test_map_pages_run_inline_scripts_by_nonce_only(loop: dict[str, User]) -> None:
    client = Client()
    client.force_login(loop["street"])
    response = client.get("/map/street/")
    assert response.status_code == 200
    directives = policy(response)
    (nonce,) = [v for v in directives["script-src"] if v.startswith("'nonce-")]
    assert "'unsafe-inline'" not in directives["script-src"]
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
    page = response.content.decode()
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)([^>]*)>", page)
    assert len(inline) >= 2  # folium's in the head and the map's own
    for attributes in inline:
        assert f'nonce="{nonce[7:-1]}"' in attributes
    # A new nonce for each response.
    assert policy(client.get("/map/street/"))["script-src"] != directives["script-src"]


def test_the_login_page_allows_no_inline_script(db: None) -> None:
    directives = policy(Client().get("/accounts/login/"))
    assert directives["script-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]


def test_the_admin_allows_inline_scripts_without_a_nonce(cast: dict[str, User]) -> None:
    client = Client()
    client.force_login(cast["admin"])
    directives = policy(client.get("/admin/"))
    assert directives["script-src"] == ["'self'", "'unsafe-inline'"]


def test_the_policy_middleware_runs_async_without_a_thread(db: None) -> None:
    async def respond(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    middleware = ContentSecurityPolicyMiddleware(respond)
    assert asyncio.iscoroutinefunction(middleware)
    request = HttpRequest()
    request.path = request.path_info = "/map/"
    response = asyncio.run(middleware(request))  # type: ignore[arg-type]
    assert "default-src 'self'" in response["Content-Security-Policy"]


# ---- sessions and passwords -----------------------------------------------------------


def test_a_session_lasts_a_working_day(cast: dict[str, User]) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"username": "street", "password": PASSWORD})
    assert response.status_code == 302
    assert response.cookies["sessionid"]["max-age"] == 9 * 3600
    assert 9 * 3600 - 5 <= client.session.get_expiry_age() <= 9 * 3600


def test_passwords_pass_djangos_four_validators(cast: dict[str, User]) -> None:
    street = cast["street"]
    for weak, rule in [
        ("street2024", "相似"),  # too like the username
        ("x7#kq", "8"),  # too short
        ("password123", "常见"),  # common
        ("73918264", "数字"),  # all digits
    ]:
        with pytest.raises(ValidationError) as refused:
            validate_password(weak, street)
        assert any(rule in str(message) for message in refused.value.messages), weak
    # The demo users' documented password passes for every one of them.
    for user in cast.values():
        validate_password(PASSWORD, user)
    assert len(settings.AUTH_PASSWORD_VALIDATORS) == 4
