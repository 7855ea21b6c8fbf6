"""The request floor's per-request savings (docs/performance.md, "Request floor"): the
Content-Security-Policy headers of a response that changes nothing in the policy built
once from the settings, and a session's signed data decoded once per process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from csp.decorators import csp_exempt, csp_update
from csp.exceptions import CSPNonceError
from csp.middleware import CSPMiddleware
from django.contrib.sessions.backends import db
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import RequestFactory, override_settings

from gridmgmt.security import ContentSecurityPolicyMiddleware
from gridmgmt.sessions import SessionStore

HEADERS = ("Content-Security-Policy", "Content-Security-Policy-Report-Only")


def _both(
    path: str, view: Callable[[HttpRequest], HttpResponseBase], touch_nonce: bool = False
) -> tuple[dict[str, str], dict[str, str]]:
    """The CSP headers of `view`'s response at `path`, through the project's middleware
    and through django-csp's own, each on a request of its own."""
    answers = []
    for middleware_class in (ContentSecurityPolicyMiddleware, CSPMiddleware):
        request = RequestFactory().get(path)

        def respond(request: HttpRequest) -> HttpResponseBase:
            if touch_nonce:
                str(request.csp_nonce)  # type: ignore[attr-defined]
            return view(request)

        response = middleware_class(respond)(request)
        assert isinstance(response, HttpResponseBase)  # a sync chain
        answers.append({name: response[name] for name in HEADERS if name in response})
        if not touch_nonce:
            # A nonce first asked for after the headers is an error, as django-csp has it.
            with pytest.raises(CSPNonceError):
                str(request.csp_nonce)  # type: ignore[attr-defined]
    return answers[0], answers[1]


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("{}", content_type="application/json")


@csp_update({"img-src": "https://tiles.example.org"})
def updated(request: HttpRequest) -> HttpResponse:
    return HttpResponse("map")


@csp_exempt()
def exempt(request: HttpRequest) -> HttpResponse:
    return HttpResponse("exempt")


def test_a_plain_response_gets_the_policy_django_csp_builds() -> None:
    ours, theirs = _both("/api/layers/categories/1/", plain)
    assert "Content-Security-Policy" in ours
    assert "'self'" in ours["Content-Security-Policy"]
    assert "nonce-" not in ours["Content-Security-Policy"]
    assert ours == theirs


def test_a_nonce_a_policy_changed_or_exempted_by_the_view_as_django_csp() -> None:
    ours, theirs = _both("/maps/", plain, touch_nonce=True)
    assert "'nonce-" in ours["Content-Security-Policy"]
    assert ours.keys() == theirs.keys()
    ours, theirs = _both("/maps/", updated)
    assert "https://tiles.example.org" in ours["Content-Security-Policy"]
    assert ours == theirs
    ours, theirs = _both("/maps/", exempt)
    assert ours == theirs == {}


def test_inline_script_paths_keep_their_policy() -> None:
    ours, theirs = _both("/admin/", plain)
    assert "'unsafe-inline'" in ours["Content-Security-Policy"]
    assert ours != theirs  # django-csp alone knows nothing of these paths


def test_the_policy_follows_the_settings() -> None:
    policy = {"DIRECTIVES": {"default-src": ["'none'"]}}
    with override_settings(
        CONTENT_SECURITY_POLICY=None, CONTENT_SECURITY_POLICY_REPORT_ONLY=policy
    ):
        ours, theirs = _both("/api/", plain)
        assert ours == theirs == {"Content-Security-Policy-Report-Only": "default-src 'none'"}
    excluded = {"DIRECTIVES": {"default-src": ["'self'"]}, "EXCLUDE_URL_PREFIXES": ["/api/"]}
    with override_settings(CONTENT_SECURITY_POLICY=excluded):
        ours, theirs = _both("/api/", plain)
        assert ours == theirs == {}
        ours, theirs = _both("/maps/", plain)
        assert ours == theirs == {"Content-Security-Policy": "default-src 'self'"}
    ours, theirs = _both("/api/", plain)
    assert "'self'" in ours["Content-Security-Policy"] and ours == theirs


def _signed(data: dict[str, Any]) -> str:
    return SessionStore().encode(data)


def test_a_decoded_session_is_a_fresh_copy_each_time() -> None:
    signed = _signed({"_auth_user_id": "7", "_auth_user_hash": "abc", "n": 1})
    first = SessionStore().decode(signed)
    assert first == {"_auth_user_id": "7", "_auth_user_hash": "abc", "n": 1}
    first["_auth_user_id"] = "8"
    first["added"] = True
    second = SessionStore().decode(signed)
    assert second == {"_auth_user_id": "7", "_auth_user_hash": "abc", "n": 1}
    assert second is not first


def test_a_session_holding_a_list_is_decoded_every_time() -> None:
    signed = _signed({"cart": [1, 2]})
    first = SessionStore().decode(signed)
    first["cart"].append(3)
    assert SessionStore().decode(signed) == {"cart": [1, 2]}


def test_bad_or_foreign_signatures_decode_to_nothing() -> None:
    signed = _signed({"_auth_user_id": "7"})
    assert SessionStore().decode(signed[:-2] + "xx") == {}
    assert SessionStore().decode(signed) == {"_auth_user_id": "7"}
    # Signed with another secret key: unknown once the key changes, as Django has it.
    with override_settings(SECRET_KEY="another secret key, long enough for the checks"):
        assert SessionStore().decode(signed) == {}
        other = _signed({"_auth_user_id": "9"})
        assert SessionStore().decode(other) == {"_auth_user_id": "9"}
    assert SessionStore().decode(other) == {}
    assert SessionStore().decode(signed) == {"_auth_user_id": "7"}
    assert db.SessionStore().decode(signed) == {"_auth_user_id": "7"}  # Django's, as ours
