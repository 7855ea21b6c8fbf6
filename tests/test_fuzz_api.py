"""Schema-driven fuzzing: every operation of /api/schema/, called with what schemathesis
generates from the schema, signed in as the superuser (who may take every action) and as
a street office, on the small test city with a few cases in it. For each operation:
requests valid by the schema, requests that break it (wrong types, missing fields, values
out of range), and, where the path names a case, valid requests on a real case; then
made-up credentials. Whatever it sends, the API must not answer a server error (5xx): a
wrong input is the client's error (4xx), never a crash; and each answer must be what the
schema says of it (a declared status code, its content type and body).

The requests run in this process through Django's WSGI handler, on the test's own
connection, each inside a savepoint rolled back after it: nothing is written outside the
test database, and every request sees the same city. Photos go to a temporary directory;
the request rate limits are counted in this process, not in Redis. Bounded: FUZZ_EXAMPLES
examples (default 10) per operation and kind, derandomized (the same requests in every
run), no example database on disk.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from pytest_django.fixtures import Settings
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from incidents.models import CasePhoto
from layers.models import Area
from tests.loop import act, photo, report

CSRF = "z" * 32  # a CSRF secret of the accepted form, sent as cookie and header
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
KINDS = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
# Each answer is also checked against the schema: its status code is one the operation
# declares, its content type and its body those declared for that status code
# (gridmgmt/schema.py declares every operation's errors). FUZZ_CONFORMANCE=0: only the
# check for server errors.
CONFORMANCE = [status_code_conformance, response_schema_conformance, content_type_conformance]
CHECK_CONFORMANCE = os.environ.get("FUZZ_CONFORMANCE", "1") != "0"


@dataclass
class Findings:
    """Server errors seen: the request (as curl) and the exception behind each."""

    errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    requests: int = 0
    unbreakable: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)


@pytest.fixture
def isolated(settings: Settings, tmp_path: Path) -> None:
    """Photos in a temporary directory; the request rate limits counted in this process
    (not in the shared Redis), and cleared before each operation (fuzz())."""
    settings.MEDIA_ROOT = tmp_path
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture
def app(cases: list[int]) -> Iterator[WSGIHandler]:
    """Django's WSGI handler, kept from closing the test's connection between requests
    (as Django's own test client does): the requests run inside the test transaction.
    After `cases`, whose test client connects the signals again after each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def cases(isolated: None, loop: dict[str, User], small_city: dict[str, Area]) -> list[int]:
    """Three reported cases with a photo each; one filed."""
    ids = []
    for _ in range(3):
        response = report(loop["inspector"], small_city, client_uuid=uuid.uuid4(), photos=[photo()])
        assert response.status_code == 201, response.content
        ids.append(response.json()["case"]["id"])
    assert act(loop["city"], ids[1], "file", note="立案").status_code == 200
    return ids


@dataclass(frozen=True)
class Session:
    """A signed-in session: its cookies and the CSRF header. (Cookies go as cookies:
    the WSGI test client replaces a Cookie header with its own cookie jar.)"""

    cookies: dict[str, str]
    headers: dict[str, str]


def signed_in(user: User) -> Session:
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    cookies = {settings.SESSION_COOKIE_NAME: session, settings.CSRF_COOKIE_NAME: CSRF}
    return Session(cookies, {"X-CSRFToken": CSRF})


def fuzz(
    operation: Any,
    mode: GenerationMode,
    session: Session | None,
    findings: Findings,
    path_parameters: dict[str, Any] | None = None,
    examples: int = EXAMPLES,
) -> None:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)
    cache.clear()  # each operation starts under the rate limits
    signed = {"headers": session.headers, "cookies": session.cookies} if session else {}

    @given(case=strategy)
    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,  # no .hypothesis/ directory
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def one(case: Any) -> None:
        savepoint = transaction.savepoint()
        try:
            response = case.call(**signed)
        finally:
            transaction.savepoint_rollback(savepoint)
            transaction.set_rollback(False)
        findings.requests += 1
        findings.statuses[response.status_code] = findings.statuses.get(response.status_code, 0) + 1
        if response.status_code >= 500:
            findings.errors.append(f"{response.status_code}: {case.as_curl_command()}")
        if not CHECK_CONFORMANCE:
            return
        try:
            case.validate_response(response, checks=CONFORMANCE)
        except (Failure, FailureGroup) as failure:
            for error in getattr(failure, "exceptions", [failure]):
                said = " ".join(str(error).split())[:300]
                findings.errors.append(f"{said}: {case.as_curl_command()}")

    try:
        one()
    except Unsatisfiable:
        # No request breaks the schema of an operation without parameters or body.
        assert mode == GenerationMode.NEGATIVE, operation.label
        findings.unbreakable.append(operation.label)


def api_schema(app: WSGIHandler, *, credentials: bool) -> Any:
    """The schema /api/schema/ serves, calling `app`. With `credentials`, schemathesis
    makes up the session cookie and the Authorization header itself."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(document)
    schema.app = app
    schema.config.generation.update(with_security_parameters=credentials)
    return schema


@contextmanager
def exceptions_kept(findings: Findings) -> Iterator[None]:
    """Each exception behind a 500, beside the request that caused it."""

    def keep(sender: Any, request: Any = None, **kwargs: Any) -> None:
        error = sys.exc_info()[1]
        findings.exceptions.append(f"{request and request.path}: {error!r}")

    got_request_exception.connect(keep)
    try:
        yield
    finally:
        got_request_exception.disconnect(keep)


@pytest.mark.parametrize("username", ["admin", "street"])
def test_no_generated_request_gets_a_server_error(
    app: WSGIHandler, loop: dict[str, User], cases: list[int], username: str
) -> None:
    """As the superuser (every action allowed) and as a street office (scoped lists,
    actions refused outside its street): valid and invalid requests, and valid ones
    on a real case."""
    schema = api_schema(app, credentials=False)
    findings = Findings()
    session = signed_in(loop[username])
    photo_id = CasePhoto.objects.filter(case_id=cases[1]).values_list("pk", flat=True)[0]
    operations = 0
    with exceptions_kept(findings):
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            for mode in KINDS:
                fuzz(operation, mode, session, findings)
            if "{id}" in operation.path:
                ids: dict[str, Any] = {"id": cases[1]}
                if "{photo_id}" in operation.path:
                    ids["photo_id"] = photo_id
                fuzz(operation, GenerationMode.POSITIVE, session, findings, ids)
    print(f"\n{username}: {operations} operations, {findings.requests} requests, "
          f"statuses {findings.statuses}")  # fmt: skip
    assert operations >= 30
    assert findings.requests >= operations * EXAMPLES
    assert findings.statuses.get(200, 0) >= operations  # signed in: most operations answer
    assert not findings.errors, "\n".join(findings.errors + findings.exceptions)


def test_no_made_up_credentials_get_a_server_error(app: WSGIHandler, cases: list[int]) -> None:
    """Session cookies and Authorization headers made up by schemathesis (odd
    characters, NUL bytes, huge values) are refused, never a 500."""
    schema = api_schema(app, credentials=True)
    findings = Findings()
    with exceptions_kept(findings):
        for result in schema.get_all_operations():
            fuzz(result.ok(), GenerationMode.POSITIVE, None, findings, examples=5)
    print(f"\nmade-up credentials: {findings.requests} requests, statuses {findings.statuses}")
    assert findings.requests >= 30 * 5
    assert not findings.errors, "\n".join(findings.errors + findings.exceptions)


def test_a_session_cookie_with_a_nul_byte_is_no_session(
    isolated: None, loop: dict[str, User]
) -> None:
    """Python's cookie parser turns a quoted "\\000" into a NUL byte; looked up as a
    session key, PostgreSQL refused it and the request was a 500."""
    client = Client(raise_request_exception=False)
    client.cookies[settings.SESSION_COOKIE_NAME] = "abcdefgh\x00ijklmnop"
    response = client.get("/api/cases/")
    assert response.status_code == 403
    assert response.json()["code"] == "not_authenticated"
