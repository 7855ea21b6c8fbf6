"""Uploads up to the documented limit (CASE_PHOTO_MAX_BYTES, 8 MB) work however Django
keeps them: in memory, or spooled to a temporary file above FILE_UPLOAD_MAX_MEMORY_SIZE
(2.5 MB), which used to give a 500. Bodies over an endpoint's limit are refused with 413
from their headers, before the body is read: through Django's test client, and on a
real server (uvicorn, as `make run` serves), where a 30 MB upload is answered at once."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from typing import Any

import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from gridmgmt.errors_middleware import UPLOAD_MARGIN, body_limit
from incidents.models import Case, CasePhoto
from layers.models import Area
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, act, event_category, photo, report
from tests.open311 import make_client, read
from tests.servers import asgi_server
from tests.test_live import session_cookie

CSRF = "c" * 32


def png(size: int) -> bytes:
    """A PNG signature followed by random bytes: `size` bytes that pass the type check."""
    head = b"\x89PNG\r\n\x1a\n"
    return head + os.urandom(size - len(head))


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


def stored(case_id: int) -> list[tuple[int, str]]:
    photos = CasePhoto.objects.filter(case_id=case_id).order_by("pk")
    return [(p.size, p.sha256) for p in photos]


def digest(data: bytes) -> tuple[int, str]:
    return len(data), hashlib.sha256(data).hexdigest()


# --- Through Django's test client --------------------------------------------------


def test_a_photo_spooled_to_disk_is_stored(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    big = png(3 * 2**20)  # above FILE_UPLOAD_MAX_MEMORY_SIZE: a TemporaryUploadedFile
    assert len(big) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    small = png(1000)
    created = report(
        loop["inspector"],
        small_city,
        photos=[photo("big.png", big), photo("small.png", small)],
    )
    assert created.status_code == 201, created.content[:300]
    case_id = created.json()["case"]["id"]
    assert stored(case_id) == [digest(big), digest(small)]
    with CasePhoto.objects.filter(case_id=case_id).first().image.open("rb") as f:  # type: ignore[union-attr]
        assert f.read() == big


def test_photos_up_to_the_limit_are_stored_and_one_over_it_is_a_400(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    limit = settings.CASE_PHOTO_MAX_BYTES
    at_limit = png(limit)
    created = report(
        loop["inspector"], small_city, photos=[photo("a.png", at_limit), photo("b.png", at_limit)]
    )
    assert created.status_code == 201, created.content[:300]
    assert stored(created.json()["case"]["id"]) == [digest(at_limit)] * 2
    over = report(loop["inspector"], small_city, photos=[photo("b.png", png(limit + 1))])
    assert over.status_code == 400 and over.json()["field"] == "photos"
    assert "b.png" in over.json()["detail"]
    assert Case.objects.count() == 1


def test_feedback_with_a_spooled_photo_is_stored(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    case_id = report(loop["inspector"], small_city).json()["case"]["id"]
    street = loop["street"]
    for action in ("file", "dispatch", "sign"):
        response = act(street, case_id, action)
        assert response.status_code == 200, response.content[:300]
    after = png(3 * 2**20)
    handled = act(street, case_id, "handle", note="已清理", photos=[photo("after.png", after)])
    assert handled.status_code == 200, handled.content[:300]
    assert digest(after) in stored(case_id)


def test_the_limits_are_computed_per_endpoint() -> None:
    photos = settings.CASE_PHOTO_MAX_COUNT * settings.CASE_PHOTO_MAX_BYTES
    assert body_limit("/api/cases/reports/") == photos + UPLOAD_MARGIN
    assert body_limit("/api/cases/12/handle/") == photos + UPLOAD_MARGIN
    assert body_limit("/api/cases/12/verify/") == photos + UPLOAD_MARGIN
    one = settings.CASE_PHOTO_MAX_BYTES + UPLOAD_MARGIN
    assert body_limit("/open311/v2/requests.json") == one
    assert body_limit("/api/cases/tickets/") == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert body_limit("/api/cases/12/file/") == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert body_limit("/admin/layers/area/add/") is None  # the pages keep Django's own


# --- On a real server ---------------------------------------------------------------


def raw_request(url: str, head: str, body: bytes = b"", *, wait: float = 10) -> tuple[int, bytes]:
    """Send `head` (and `body`) on a socket, read the response: (status, body)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait) as sock:
        sock.sendall(head.encode("latin-1") + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status_line, _sep, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.split(b"\r\n\r\n", 1)[1]


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _sep, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 1 << 30


@pytest.mark.django_db(transaction=True)
def test_a_real_server_refuses_oversized_bodies_from_their_headers(
    loop: dict[str, User],
) -> None:
    cookie = f"{session_cookie(loop['inspector'])}; csrftoken={CSRF}"
    with asgi_server() as url:
        for path, size in [
            ("/api/cases/reports/", body_limit("/api/cases/reports/") + 1),  # type: ignore[operator]
            ("/open311/v2/requests.json", 30 * 2**20),
            ("/api/cases/tickets/", 3 * 2**20),
        ]:
            head = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
                f"X-CSRFToken: {CSRF}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                f"Content-Length: {size}\r\n\r\n"
            )
            started = time.monotonic()
            status, body = raw_request(url, head)  # not a byte of the body is sent
            elapsed = time.monotonic() - started
            assert status == 413, body[:300]
            assert elapsed < 2, elapsed
            if path.startswith("/open311/"):
                (error,) = read(body, "application/json; charset=utf-8", "json", "errors")
                assert error["code"] == 413
            else:
                assert json.loads(body)["code"] == "too_large"


@pytest.mark.django_db(transaction=True)
def test_a_real_server_checks_the_open311_key_before_the_body(loop: dict[str, User]) -> None:
    _app, secret = make_client()
    size = 5 * 2**20  # within the limit: it would be waited for, then read
    with asgi_server() as url:
        for key, status in [("o311_wrong", 403), (secret, None)]:
            head = (
                f"POST /open311/v2/requests.json?api_key={key} HTTP/1.1\r\n"
                "Host: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                f"Content-Length: {size}\r\n\r\n"
            )
            if status is None:
                # A good key: the server waits for the body it was promised.
                with pytest.raises(TimeoutError):
                    raw_request(url, head, wait=2)
                continue
            started = time.monotonic()
            code, body = raw_request(url, head)  # not a byte of the body is sent
            assert time.monotonic() - started < 2
            assert code == status
            (error,) = read(body, "application/json; charset=utf-8", "json", "errors")
            assert error["code"] == 403 and "api_key" in error["description"]


@pytest.mark.django_db(transaction=True)
def test_a_real_server_stops_a_chunked_body_past_the_limit(loop: dict[str, User]) -> None:
    cookie = f"{session_cookie(loop['hotline'])}; csrftoken={CSRF}"
    limit = body_limit("/api/cases/tickets/")
    assert limit is not None
    chunk = b"x" * 2**16
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(limit // len(chunk) + 2))
    head = (
        f"POST /api/cases/tickets/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
        f"X-CSRFToken: {CSRF}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    with asgi_server() as url:
        status, body = raw_request(url, head, chunks + b"0\r\n\r\n")
        assert status == 413 and json.loads(body)["code"] == "too_large"
        # The middleware's checks, as the server runs them (async-capable).
        nul = requests.get(f"{url}/api/cases/?area=44%00", headers={"Cookie": cookie}, timeout=10)
        assert nul.status_code == 400 and nul.json()["code"] == "invalid"
        unknown = requests.get(f"{url}/api/no-such-thing/", timeout=10)
        assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"


@pytest.mark.django_db(transaction=True)
def test_a_real_server_stores_photos_spooled_to_disk(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    point = centre(small_city[INSPECTOR_CELL])
    big = png(6 * 2**20)
    fields = {
        "client_uuid": str(uuid.uuid4()),
        "category": event_category("0101").pk,
        "description": "路边有一堆暴露垃圾",
        "lon": point.x,
        "lat": point.y,
        "datum": "wgs84",
    }
    _app, secret = make_client()
    with asgi_server() as url:
        response = requests.post(
            f"{url}/api/cases/reports/",
            data=fields,
            files=[("photos", ("big.png", big, "image/png"))],
            headers={
                "Cookie": f"{session_cookie(loop['inspector'])}; csrftoken={CSRF}",
                "X-CSRFToken": CSRF,
            },
            timeout=60,
        )
        assert response.status_code == 201, response.text[:300]
        assert stored(response.json()["case"]["id"]) == [digest(big)]

        # Open311's media, the same way.
        filing = {"api_key": secret, "service_code": "event-0101", "lat": point.y, "long": point.x}
        response = requests.post(
            f"{url}/open311/v2/requests.json",
            data=filing,
            files=[("media", ("site.png", big, "image/png"))],
            timeout=60,
        )
        assert response.status_code == 201, response.text[:300]
        (created,) = response.json()
        assert stored(int(created["service_request_id"])) == [digest(big)]


def test_an_open311_photo_over_the_limit_is_refused(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    from django.test import Client

    _app, secret = make_client()
    point = centre(small_city[INSPECTOR_CELL])
    data = {
        "api_key": secret,
        "service_code": "event-0101",
        "lat": point.y,
        "long": point.x,
        "media": SimpleUploadedFile("big.png", png(settings.CASE_PHOTO_MAX_BYTES + 1)),
    }
    response = Client().post("/open311/v2/requests.json", data)
    assert response.status_code == 400
    (error,) = read(response.content, response["Content-Type"], "json", "errors")
    assert error["description"].startswith("media:")
    assert Case.objects.count() == 0
