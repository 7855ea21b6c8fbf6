"""Filing a service request (POST requests): checked here, then the same intake as a
12345 ticket, dispatch.services.case_take_ticket(), as the application's service user:
placement, history, live event, routing and 自动立案派遣 are the hotline's.

- Where: a standard address (address_id, its code) wins over a point, as for 12345
  tickets; lat/long are WGS 84 by the standard and stored as such; an address_string
  alone is geocoded among the standard addresses of the application's scope and used
  only when the geocoder is sure (else 400 naming the candidates).
- The place must lie in the application's intake scope (border included).
- The reporter's name and phone become the case's caller fields (masked as a 12345
  caller's are); e-mail, device and account go to the Open311Request beside the case.
  None of them is ever returned by GET.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import EmailValidator, URLValidator
from django.http import QueryDict
from django.utils.translation import gettext as _

from dispatch.services import case_take_ticket
from incidents.duplicates import likely_duplicates
from incidents.errors import CaseError
from incidents.geocoding import Candidate, GeocodeError, geocode
from incidents.models import Case, Channel, Source
from incidents.photos import attach, check_photos
from incidents.services import Location, Ticket
from layers.access import apply_scope, within
from layers.datum import Datum, point_to_storage
from layers.models import Address, Area
from open311 import params
from open311.catalogue import category_for, check_answers
from open311.errors import BadRequest, from_case_error
from open311.models import ClientApplication, Open311Request
from open311.service_requests import readable_cases, time_limit_notice

CALLER_NAME_MAX = 50  # Case.caller_name
# An address_string is used alone only when the geocoder is sure of it: a top candidate
# this close to the words, and this far ahead of the next one (incidents.geocoding score).
CONFIDENT_SCORE = 0.85
CONFIDENT_MARGIN = 0.1
# Intake names its fields as the hotline API does; the client knows them by these.
_FIELDS = {
    "caller_phone": "phone",
    "caller_name": "first_name/last_name",
    "location": "lat/long",
    "category": "service_code",
    "photos": "media",
}


@dataclass(frozen=True)
class NewRequest:
    service_code: str
    lat: float | None
    long: float | None
    address_string: str
    address_id: str
    attributes: dict[str, list[str]]
    description: str
    media_url: str
    first_name: str
    last_name: str
    phone: str
    email: str
    device_id: str
    account_id: str

    @classmethod
    def from_params(cls, form: QueryDict) -> NewRequest:
        service = params.text(form, "service_code", max_length=40)
        if not service:
            raise BadRequest(_("缺少 service_code：请先从 services 列表中选择服务。"))
        lat, long = params.coordinates(form)  # through the input boundary
        new = cls(
            service_code=service,
            lat=lat,
            long=long,
            address_string=params.text(form, "address_string", max_length=200),
            address_id=params.text(form, "address_id", max_length=30),
            attributes=params.attributes(form),
            description=params.text(form, "description", max_length=4000),
            media_url=params.text(form, "media_url", max_length=500),
            first_name=params.text(form, "first_name", max_length=50),
            last_name=params.text(form, "last_name", max_length=50),
            phone=params.text(form, "phone", max_length=20),
            email=params.text(form, "email", max_length=254),
            device_id=params.text(form, "device_id", max_length=100),
            account_id=params.text(form, "account_id", max_length=100),
        )
        if lat is None and not new.address_string and not new.address_id:
            raise BadRequest(_("缺少位置：请提供 lat 和 long，或 address_string，或 address_id。"))
        return new

    @property
    def location(self) -> Location | None:
        """The point given, if any: GeoReport coordinates are WGS 84 by the standard,
        never GCJ-02 or BD-09."""
        if self.lat is None or self.long is None:
            return None
        return Location(self.long, self.lat, Datum.WGS84)


@dataclass(frozen=True)
class Created:
    case: Case
    notice: str


def request_create(
    *, client: ClientApplication, new: NewRequest, media: Sequence[UploadedFile] = ()
) -> Created:
    """POST requests: check, then the hotline's intake as the application's user. The
    caller holds a transaction: a request that fails anywhere leaves nothing behind.
    `media`: the photo a client uploaded, checked as an inspector's photos are and
    attached to the case's report."""
    category = category_for(new.service_code)
    try:
        photos = check_photos(media)
    except CaseError as error:
        raise from_case_error(error, _FIELDS) from None
    answers = check_answers(category, new.attributes)
    _check_contact(new)
    address_id, point, address_text = _where(client, new)
    _check_scope(client, point)
    ticket = Ticket(
        channel=Channel(client.channel),
        category_id=category.pk,
        # Optional in GeoReport: a report is "this problem, here"; its service says what.
        description=new.description or category.name,
        address_text=address_text,
        caller_name=_caller_name(new.first_name, new.last_name),
        caller_phone=new.phone,
        address_id=address_id,
        location=None if address_id is not None else new.location,
        attributes=answers,
        source=Source.OPEN311,
        media_url=new.media_url,
    )
    assert client.user is not None
    try:
        result = case_take_ticket(user=client.user, ticket=ticket)
    except CaseError as error:
        raise from_case_error(error, _FIELDS) from None
    case = result.case
    if photos:
        attach(case, photos, case.history.filter(action="report").first())
    Open311Request.objects.create(
        case=case,
        application=client,
        email=new.email,
        device_id=new.device_id,
        account_id=new.account_id,
    )
    duplicates = likely_duplicates(case, among=readable_cases(client))
    return Created(case=case, notice=_notice(case, duplicates))


def _check_contact(new: NewRequest) -> None:
    if len(_caller_name(new.first_name, new.last_name)) > CALLER_NAME_MAX:
        raise BadRequest(
            _("first_name 与 last_name 合计最多 %(max)d 个字符。") % {"max": CALLER_NAME_MAX}
        )
    try:
        if new.media_url:
            URLValidator(schemes=["http", "https"])(new.media_url)
    except ValidationError:
        raise BadRequest(_("media_url 应为 http 或 https 网址。")) from None
    try:
        if new.email:
            EmailValidator()(new.email)
    except ValidationError:
        raise BadRequest(_("email 不是有效的电子邮箱地址。")) from None


def _where(client: ClientApplication, new: NewRequest) -> tuple[int | None, Point, str]:
    """The standard address's id (if any), the point in storage and the words of the
    place. A standard address wins over a point, as for 12345 tickets (incidents.services)."""
    if new.address_id:
        address = Address.objects.filter(code=new.address_id).first()
        if address is None:
            raise BadRequest(_("没有编码为 %(code)s 的标准地址。") % {"code": new.address_id})
        return address.pk, address.geom, new.address_string or address.text
    if (location := new.location) is not None:
        x, y = point_to_storage(location.lon, location.lat, location.datum)
        words = new.address_string or _("经纬度 %(lat).6f, %(long).6f") % {
            "lat": location.lat,
            "long": location.lon,
        }
        return None, Point(x, y, srid=settings.GRID_SRID), words
    candidate = _geocoded(client, new.address_string)
    return candidate.address_id, candidate.point, new.address_string


def _geocoded(client: ClientApplication, text: str) -> Candidate:
    among = apply_scope(Address.objects.all(), within(client.scope))
    try:
        found = geocode(text, limit=3, among=among)
    except GeocodeError as error:
        raise BadRequest(f"address_string: {error.message}") from None
    if not found:
        raise BadRequest(_("无法定位地址“%(text)s”：请提供 lat 和 long。") % {"text": text})
    best = found[0]
    runner_up = found[1].score if len(found) > 1 else 0.0
    if best.score < CONFIDENT_SCORE or best.score - runner_up < CONFIDENT_MARGIN:
        options = "；".join(candidate.text for candidate in found)
        raise BadRequest(
            _(
                "无法确定地址“%(text)s”的位置（可能是：%(options)s）：请写得更完整，"
                "或提供 lat 和 long，或 address_id。"
            )
            % {"text": text, "options": options}
        )
    return best


def _check_scope(client: ClientApplication, point: Point) -> None:
    # Border-inclusive, as placement is: a point on the scope's border belongs to it.
    scope = Area.objects.filter(pk=client.scope_id, geom__covers=point)
    if not scope.exists():
        raise BadRequest(
            _("该位置不在此应用的受理范围（%(area)s）内。") % {"area": client.scope.name}
        )


def _caller_name(first: str, last: str) -> str:
    # Chinese names are family name first, unspaced (张 + 三 = 张三); others first last.
    if first and last and all(not part.isascii() for part in (first, last)):
        return last + first
    return " ".join(part for part in (first, last) if part)


def _notice(case: Case, duplicates: list[Case]) -> str:
    parts = [_("已受理，编号 %(id)d。") % {"id": case.pk}]
    limit = time_limit_notice(case.category, urgent=case.urgent)
    if limit:
        parts.append(limit)
    if duplicates:
        ids = "、".join(str(other.pk) for other in duplicates)
        parts.append(_("附近已有同类问题在处理（编号 %(ids)s），可能合并处理。") % {"ids": ids})
    return "".join(parts)
