"""Every error of the API is JSON in its one shape, {"detail", "code", "field"}, and
Open311's in the GeoReport error list (XML or JSON by the address), in the user's
language: malformed, deeply nested, NUL-bearing, oversized, wrongly encoded bodies,
unknown addresses and ids, and unexpected errors (a 500 with an id found in the log).
A request that answers an error saves nothing. The pages keep their HTML errors."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from django.utils import translation
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request

from gridmgmt.urls import handler400, handler403, handler404, handler500  # noqa: F401
from gridmgmt.urls import urlpatterns as project_urls
from incidents.models import Case, CasePhoto
from layers.models import Area
from open311.models import Datatype, Open311Request, ServiceAttribute
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, PNG, client_for, event_category
from tests.open311 import make_client, read

FORM = "application/x-www-form-urlencoded"
SHAPE = {"detail", "code", "field"}


# A URLconf for the unexpected errors: the project's, with two views that fail.
@api_view(["GET"])
@permission_classes([AllowAny])
def failing_api_view(request: Request) -> HttpResponse:
    raise RuntimeError("an unexpected failure in an API view")


def failing_open311_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("an unexpected failure in an Open311 view")


urlpatterns = [
    path("api/failing/", failing_api_view),
    path("open311/v2/failing.json", failing_open311_view),
    path("open311/v2/failing.xml", failing_open311_view),
    *project_urls,
]


def api_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content[:400]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) >= SHAPE, body
    if code is not None:
        assert body["code"] == code, body
    return dict(body)


def open311_error(response: Any, status: int, fmt: str = "json") -> str:
    assert response.status_code == status, response.content[:400]
    (error,) = read(response.content, response["Content-Type"], fmt, "errors")
    assert error["code"] == status
    return str(error["description"])


def in_english(message: str, **params: Any) -> str:
    """A message as an English-speaking user reads it (its catalogue's translation)."""
    with translation.override("en"):
        return translation.gettext(message) % params


def english(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


@pytest.fixture
def hotline(loop: dict[str, User]) -> Client:
    return client_for(loop["hotline"])


def ticket(city: dict[str, Area], **extra: Any) -> dict[str, Any]:
    point = centre(city[INSPECTOR_CELL])
    return {
        "channel": "phone",
        "category": event_category("0101").pk,
        "description": "小区门口垃圾堆积",
        "address_text": "华景路",
        "lon": point.x,
        "lat": point.y,
        "datum": "wgs84",
        **extra,
    }


# --- /api/ -------------------------------------------------------------------------


def test_malformed_json_is_a_400_in_the_shape_in_chinese_or_english(hotline: Client) -> None:
    body = '{"channel": "phone", '
    response = hotline.post("/api/cases/tickets/", body, content_type="application/json")
    chinese = api_error(response, 400, "parse_error")
    assert "JSON" in chinese["detail"] and response["Content-Language"] == "zh-hans"
    response = english(hotline).post("/api/cases/tickets/", body, content_type="application/json")
    assert "JSON parse error" in api_error(response, 400, "parse_error")["detail"]
    assert Case.objects.count() == 0


def test_json_nested_a_thousand_deep_is_a_400(hotline: Client) -> None:
    body = "[" * 1000 + "]" * 1000
    response = hotline.post("/api/cases/tickets/", body, content_type="application/json")
    assert "嵌套" in api_error(response, 400, "parse_error")["detail"]
    deep = '{"description": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = hotline.post("/api/cases/tickets/", deep, content_type="application/json")
    api_error(response, 400, "parse_error")


def test_nul_in_the_query_string_is_a_400_not_a_500(hotline: Client) -> None:
    for address in ["/api/cases/?area=44%00", "/api/cases/duplicates/?category=%00"]:
        response = hotline.get(address)
        assert "NUL" in api_error(response, 400, "invalid")["detail"]


def test_nul_in_a_json_or_form_field_is_refused_and_nothing_is_saved(
    hotline: Client, small_city: dict[str, Area]
) -> None:
    body = ticket(small_city, description="垃圾\x00堆积", caller_name="张\x00三")
    response = hotline.post("/api/cases/tickets/", body, format="json")
    assert response.status_code == 400 and "description" in response.json()
    response = hotline.post("/api/cases/tickets/", body, format="multipart")
    assert response.status_code == 400 and "description" in response.json()
    assert Case.objects.count() == 0


def test_a_body_over_the_limit_is_a_413_before_it_is_read(hotline: Client) -> None:
    big = json.dumps({"description": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    response = hotline.post("/api/cases/tickets/", big, content_type="application/json")
    assert "MB" in api_error(response, 413, "too_large")["detail"]
    response = english(hotline).post("/api/cases/tickets/", big, content_type="application/json")
    detail = api_error(response, 413, "too_large")["detail"]
    assert response["Content-Language"] == "en"
    assert detail == in_english(
        "请求体为 %(size).1f MB，超过此接口的上限 %(max).1f MB。",
        size=len(big) / 2**20,
        max=settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 2**20,
    )


def test_a_form_over_the_memory_limit_is_a_413_and_too_many_fields_a_400(
    hotline: Client, settings: Any
) -> None:
    # Within the upload endpoint's size guard, over what Django keeps in memory for fields.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = urlencode({"description": "x" * 2000})
    response = hotline.post("/api/cases/reports/", body, content_type=FORM)
    api_error(response, 413, "too_large")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
    fields = urlencode([(f"f{i}", "1") for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)])
    response = hotline.post("/api/cases/reports/", fields, content_type=FORM)
    assert "字段过多" in api_error(response, 400, "too_many_fields")["detail"]


def test_a_body_in_another_charset_is_a_400(hotline: Client, small_city: dict[str, Area]) -> None:
    body = urlencode(ticket(small_city), encoding="gbk")
    response = hotline.post("/api/cases/tickets/", body, content_type=f"{FORM}; charset=GBK")
    assert "UTF-8" in api_error(response, 400, "bad_encoding")["detail"]
    not_utf8 = b'{"description": "\xc0\xc0"}'
    response = hotline.post("/api/cases/tickets/", not_utf8, content_type="application/json")
    api_error(response, 400, "parse_error")
    assert Case.objects.count() == 0


@pytest.mark.parametrize(
    "address",
    [
        "/api/no-such-thing/",
        "/api/cases/abc/",
        "/api/cases/1.5/",
        "/api/cases/99999999999999999999999/",
        "/api/cases/1/photos/abc/",
        "/api/layers/areas/abc/",
        "/api/layers/areas/99999999999999999999/",
    ],
)
def test_unknown_addresses_and_ids_are_json_404s(hotline: Client, address: str) -> None:
    api_error(hotline.get(address), 404)


def test_an_id_is_ascii_digits_only(loop: dict[str, User], small_city: dict[str, Area]) -> None:
    from tests.loop import report

    case_id = report(loop["inspector"], small_city).json()["case"]["id"]
    client = client_for(loop["city"])
    assert client.get(f"/api/cases/{case_id}/").status_code == 200
    arabic_indic = "".join(chr(0x0660 + int(digit)) for digit in str(case_id))
    for written in [arabic_indic, f"0_{case_id}", f"%20{case_id}"]:
        api_error(client.get(f"/api/cases/{written}/"), 404, "not_found")


def test_other_refusals_are_in_the_shape(hotline: Client) -> None:
    assert api_error(Client().get("/api/cases/"), 403)["code"] == "not_authenticated"
    api_error(hotline.delete("/api/cases/"), 405, "method_not_allowed")
    xml = hotline.post("/api/cases/tickets/", "<a/>", content_type="application/xml")
    api_error(xml, 415, "unsupported_media_type")


@pytest.mark.urls("tests.test_api_errors")
def test_an_unexpected_error_is_a_json_500_whose_id_is_logged_with_the_traceback(
    db: None, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.ERROR, logger="gridmgmt.errors"):
        response = client.get("/api/failing/")
    body = api_error(response, 500, "server_error")
    error_id = body["error_id"]
    assert error_id in body["detail"] and "服务器内部错误" in body["detail"]
    (record,) = [r for r in caplog.records if r.name == "gridmgmt.errors"]
    assert error_id in record.getMessage() and "/api/failing/" in record.getMessage()
    assert record.exc_info is not None and "unexpected failure" in str(record.exc_info[1])
    response = english(client).get("/api/failing/")
    english_body = api_error(response, 500)
    assert response["Content-Language"] == "en"
    assert english_body["detail"] == in_english(
        "服务器内部错误，请稍后重试；如仍出错，请将错误编号 %(id)s 告知管理员。",
        id=english_body["error_id"],
    )


@pytest.mark.urls("tests.test_api_errors")
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unexpected_open311_error_is_a_500_in_the_open311_shape(
    db: None, fmt: str, caplog: pytest.LogCaptureFixture
) -> None:
    response = Client(raise_request_exception=False).get(f"/open311/v2/failing.{fmt}")
    description = open311_error(response, 500, fmt)
    (record,) = [r for r in caplog.records if r.name == "gridmgmt.errors"]
    assert record.getMessage().split()[2] in description


def test_pages_keep_their_html_errors(db: None) -> None:
    response = Client().get("/map/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
    response = Client().get("/admin/no-such-page/", follow=False)
    assert not response["Content-Type"].startswith("application/json")


# --- /open311/ ---------------------------------------------------------------------


@pytest.fixture
def demo(loop: dict[str, User]) -> tuple[Any, str]:
    return make_client()


def filing(city: dict[str, Area], secret: str, **extra: str) -> dict[str, Any]:
    point = centre(city[INSPECTOR_CELL])
    return {
        "api_key": secret,
        "service_code": "event-0101",
        "lat": point.y,
        "long": point.x,
        "description": "路边一堆垃圾",
        **extra,
    }


OPEN311_FIELDS = [
    "service_code",
    "address_string",
    "description",
    "media_url",
    "first_name",
    "last_name",
    "phone",
    "email",
    "device_id",
    "account_id",
    "attribute[smell]",
]


@pytest.mark.parametrize("field", OPEN311_FIELDS)
def test_open311_nul_in_any_field_is_a_400_and_no_case_is_saved(
    small_city: dict[str, Area], demo: tuple[Any, str], field: str
) -> None:
    ServiceAttribute.objects.create(
        category=event_category("0101"),
        code="smell",
        description="气味",
        order=1,
        datatype=Datatype.STRING,
        required=False,
    )
    data = filing(small_city, demo[1], **{field: "a\x00b"})
    response = Client().post("/open311/v2/requests.json", urlencode(data), content_type=FORM)
    assert field in open311_error(response, 400)
    response = Client().post("/open311/v2/requests.xml", data)  # multipart
    assert "NUL" in open311_error(response, 400, "xml")
    assert Case.objects.count() == 0 and Open311Request.objects.count() == 0


@pytest.mark.urls("tests.test_api_errors")
def test_open311_a_failure_after_intake_leaves_no_case(
    small_city: dict[str, Area], demo: tuple[Any, str], settings: Any, tmp_path: Any
) -> None:
    # The photo is stored after intake saved the case: where it cannot be stored (the
    # media folder is a file), the request fails, and the case must go with it.
    from django.core.files.uploadedfile import SimpleUploadedFile

    (tmp_path / "media").write_text("not a folder")
    settings.MEDIA_ROOT = str(tmp_path / "media")
    data = filing(small_city, demo[1], media=SimpleUploadedFile("a.png", PNG, "image/png"))  # type: ignore[arg-type]
    response = Client(raise_request_exception=False).post("/open311/v2/requests.json", data)
    open311_error(response, 500)
    assert Case.objects.count() == 0 and Open311Request.objects.count() == 0


def test_open311_body_errors_are_in_its_shape(
    small_city: dict[str, Area], demo: tuple[Any, str], settings: Any
) -> None:
    data = filing(small_city, demo[1])
    gbk = urlencode(data, encoding="gbk")
    response = Client().post("/open311/v2/requests.json", gbk, content_type=f"{FORM}; charset=gbk")
    assert "UTF-8" in open311_error(response, 400)
    raw = urlencode(data) + "&description=%C0%C0"
    response = Client().post("/open311/v2/requests.xml", raw, content_type=FORM)
    assert "UTF-8" in open311_error(response, 400, "xml")
    many = urlencode([*data.items(), *((f"x{i}", "1") for i in range(1001))])
    response = Client().post("/open311/v2/requests.json", many, content_type=FORM)
    assert "字段过多" in open311_error(response, 400)
    broken = b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx'
    response = Client().post(  # multipart without its boundary
        f"/open311/v2/requests.json?api_key={demo[1]}", broken, content_type="multipart/form-data"
    )
    assert "multipart" in open311_error(response, 400)
    big = "x" * (settings.CASE_PHOTO_MAX_BYTES + 2 * 2**20)
    response = Client().post("/open311/v2/requests.json", big, content_type=FORM)
    assert "MB" in open311_error(response, 413)
    assert Case.objects.count() == 0


def test_open311_a_bad_key_in_the_query_is_refused_before_the_body_is_read(
    small_city: dict[str, Area], demo: tuple[Any, str]
) -> None:
    # A body that cannot be parsed (no boundary): had it been read, it would be a 400.
    broken = b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nx'
    response = Client().post(
        "/open311/v2/requests.json?api_key=wrong", broken, content_type="multipart/form-data"
    )
    assert "api_key" in open311_error(response, 403)


def test_open311_unknown_addresses_are_in_its_shape(db: None) -> None:
    open311_error(Client().get("/open311/v2/nothing/here.json"), 404)
    open311_error(Client().get("/open311/v2/requests/abc.xml"), 404, "xml")


# --- Open311 media -----------------------------------------------------------------


def test_open311_media_is_stored_as_the_cases_photo(
    small_city: dict[str, Area], demo: tuple[Any, str]
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = filing(small_city, demo[1], media=SimpleUploadedFile("a.png", PNG, "image/png"))  # type: ignore[arg-type]
    response = Client().post("/open311/v2/requests.json", data)
    assert response.status_code == 201, response.content
    case = Case.objects.get()
    (photo,) = CasePhoto.objects.filter(case=case)
    assert (photo.content_type, photo.size) == ("image/png", len(PNG))
    assert photo.event is not None and photo.event.action == "report"
    assert photo.image.read() == PNG


@pytest.mark.parametrize(
    ("files", "words"),
    [
        ([("media", "a.txt", b"not an image")], "media"),
        ([("media", "a.png", PNG), ("media", "b.png", PNG)], "media"),
        ([("photo", "a.png", PNG)], "photo"),
    ],
)
def test_open311_media_that_is_not_one_image_is_a_400_and_nothing_is_saved(
    small_city: dict[str, Area],
    demo: tuple[Any, str],
    files: list[tuple[str, str, bytes]],
    words: str,
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    data: dict[str, Any] = filing(small_city, demo[1])
    for name, filename, content in files:
        data.setdefault(name, []).append(SimpleUploadedFile(filename, content))
    response = Client().post("/open311/v2/requests.json", data)
    assert words in open311_error(response, 400)
    assert Case.objects.count() == 0 and CasePhoto.objects.count() == 0
