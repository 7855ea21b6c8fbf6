"""The GeoReport v2 endpoints under /open311/v2/ (docs/open311.md).

Plain Django views, not DRF: the credential is the api_key parameter, not a session or
a password, and these endpoints have a specification of their own rather than a place in
the OpenAPI schema. Each parses, calls one function of open311.catalogue or
open311.service_requests, and renders XML or JSON by the URL's suffix. Errors are the
specification's: 404, 403 or 400 with a list of {code, description}.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from gridmgmt.api_errors import body_error
from open311 import catalogue, filing, params
from open311.clients import client_for_key
from open311.errors import BadRequest, NotFound, Open311Error
from open311.models import ClientApplication
from open311.render import MEDIA_TYPES, Format, parse_format, render, render_error
from open311.service_requests import RequestQuery, request_detail, request_list
from open311.throttling import throttled

View = Callable[..., HttpResponse]
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def endpoint(*methods: str) -> Callable[[View], View]:
    """The frame of every endpoint: the format from the suffix, the method, the errors.
    The view gets the Format in place of the suffix. No CSRF token: an api_key is not a
    cookie a browser sends on its own."""
    allowed = {*methods, "HEAD"} if "GET" in methods else set(methods)

    def wrap(view: View) -> View:
        view = throttled(view)  # per API key or address (open311.throttling)

        @csrf_exempt
        @functools.wraps(view)
        def framed(request: HttpRequest, fmt: str, **kwargs: Any) -> HttpResponse:
            try:
                chosen = parse_format(fmt)
            except Open311Error as error:
                return render_error(Format.XML, error)  # XML: the required format
            try:
                if request.method not in allowed:
                    raise BadRequest(
                        _("此地址不支持 %(method)s 请求（可用：%(allowed)s）。")
                        % {"method": request.method, "allowed": ", ".join(methods)}
                    )
                if request.method != "POST":
                    return view(request, chosen, **kwargs)
                # A key in the query string is checked before the body is read; and
                # nothing is kept of a POST that answers an error.
                _check_query_key(request)
                with transaction.atomic():
                    return view(request, chosen, **kwargs)
            except Open311Error as error:
                return render_error(chosen, error)
            except Exception as error:
                # Reading the body failed (too large, too many fields, not UTF-8...).
                if (found := body_error(error)) is None:
                    raise
                status, message, _code = found
                return render_error(chosen, Open311Error.with_status(status, message))

        return framed

    return wrap


@endpoint("GET")
def discovery(request: HttpRequest, fmt: Format) -> HttpResponse:
    url = request.build_absolute_uri(reverse("open311-root")).rstrip("/")
    document = catalogue.discovery(url, formats=MEDIA_TYPES, test=settings.DEBUG)
    return render(fmt, "discovery", document)


@endpoint("GET")
def service_list(request: HttpRequest, fmt: Format) -> HttpResponse:
    return render(fmt, "services", catalogue.services())


@endpoint("GET")
def service_definition(request: HttpRequest, fmt: Format, code: str) -> HttpResponse:
    category = catalogue.category_for(code)
    return render(fmt, "service_definition", catalogue.definition(category))


@endpoint("GET", "POST")
def service_requests(request: HttpRequest, fmt: Format) -> HttpResponse:
    if request.method == "POST":
        return _create(request, fmt)
    query = RequestQuery.from_params(request.GET)
    found = request_list(_reader(request.GET), query)
    return render(fmt, "service_requests", found)


def _create(request: HttpRequest, fmt: Format) -> HttpResponse:
    if request.content_type not in FORM_TYPES:
        message = _("请以表单编码提交（Content-Type: %(form)s），收到 %(type)s。")
        raise BadRequest(message % {"form": FORM_TYPES[0], "type": request.content_type or "-"})
    form = _form(request)
    client = client_for_key(form.get("api_key") or request.GET.get("api_key", ""))
    new = filing.NewRequest.from_params(form)
    created = filing.request_create(client=client, new=new, media=_media(request))
    body = {
        "service_request_id": str(created.case.pk),
        "service_notice": created.notice,
        "account_id": new.account_id or None,
    }
    return render(fmt, "service_requests", [body], status=201)


@endpoint("GET")
def service_request(request: HttpRequest, fmt: Format, request_id: str) -> HttpResponse:
    notes = params.boolean(request.GET, "extensions")
    found = request_detail(_reader(request.GET), request_id, notes=notes)
    return render(fmt, "service_requests", [found])


@endpoint("GET")
def token(request: HttpRequest, fmt: Format, token: str) -> HttpResponse:
    # Every service is realtime: a POST answers with the service_request_id at once and
    # no token is ever issued, so there is none to look up.
    raise NotFound(
        _("没有令牌 %(token)s：本平台实时受理，提交后直接返回 service_request_id。")
        % {"token": token[:40]}
    )


@csrf_exempt
def unknown(request: HttpRequest, path: str) -> HttpResponse:
    fmt = Format.JSON if path.lower().endswith(".json") else Format.XML
    error = NotFound(
        _("没有这个地址：/open311/v2/%(path)s（见 discovery.xml）。") % {"path": path[:80]}
    )
    return render_error(fmt, error)


def _check_query_key(request: HttpRequest) -> None:
    if secret := request.GET.get("api_key", "").strip():
        client_for_key(secret)


def _form(request: HttpRequest) -> QueryDict:
    """The POST's fields. A form-encoded body must be UTF-8: Django would read other
    bytes as U+FFFD and the case would keep the damage."""
    if request.content_type == FORM_TYPES[0]:
        try:
            parse_qsl(request.body.decode(), encoding="utf-8", errors="strict")
        except UnicodeDecodeError:
            raise BadRequest(_("请求体不是有效的 UTF-8 编码。")) from None
    return request.POST


def _media(request: HttpRequest) -> list[UploadedFile]:
    """GeoReport's `media`: one image file, stored as the case's photo."""
    unknown = sorted(name for name in request.FILES if name != "media")
    if unknown:
        raise BadRequest(
            _("不接受文件字段 %(names)s：照片请以 media 上传。")
            % {"names": ", ".join(unknown)[:80]}
        )
    media = request.FILES.getlist("media")
    if len(media) > 1:
        raise BadRequest(_("media 只能上传一个文件，收到 %(n)d 个。") % {"n": len(media)})
    return media


def _reader(query: QueryDict) -> ClientApplication | None:
    """Who reads: no api_key is the public; a given one must be valid (else 403)."""
    secret = query.get("api_key", "").strip()
    return client_for_key(secret) if secret else None
