"""Intake (信息收集): inspector reports and hotline tickets become located cases.

case_report() and case_ticket() check the input and the reporter, place the point into
its cell (the case keeps that placement for good), write the case, its first history
entry and its live event in one transaction, and return the likely duplicates nearby.
Both are idempotent on the client's UUID: the same report sent twice (a phone on a weak
network) returns the same case; another report under a used UUID is a conflict. "The
same" compares the point at COORDINATE_TOLERANCE (1e-7°, about 1 cm), not bit for bit:
a client that writes its float out again may change its last digits. A conflict names
the case only to a user who may see it (incidents.access).
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, Point
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridmgmt import clock
from incidents import case_insert, history
from incidents.access import visible_cases
from incidents.errors import Conflict, InvalidInput, NotPermitted
from incidents.history import record
from incidents.models import Case, Channel, ReplyTerm, Source, State, TicketType
from incidents.photos import CheckedPhoto, attach, check_photos
from layers.access import is_superuser, staff_of
from layers.datum import Datum, point_to_storage
from layers.kept_statements import kept_cursor
from layers.models import Address, Category, Component, LegalEntity, Role, Staff
from layers.placement import OutsideCity, Placement, place_point
from layers.validators import InvalidCode, validate_component_code, validate_phone

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Two points of one report are the same if they differ by no more than this in either
# axis (degrees, in storage): 1e-7° is about 1 cm; a float written out by one client and
# read back by another differs by ~1e-13.
COORDINATE_TOLERANCE = 1e-7


@dataclass(frozen=True)
class Location:
    lon: float
    lat: float
    datum: Datum
    accuracy_m: float | None = None


@dataclass(frozen=True)
class Report:
    """An inspector's report from the field."""

    client_uuid: uuid.UUID
    category_id: int
    description: str
    location: Location
    urgent: bool | None = None  # None: the category's default
    component_code: str = ""
    entity_id: int | None = None
    photos: Sequence[UploadedFile] = ()


@dataclass(frozen=True)
class Ticket:
    """A 12345 work order: where is a confirmed standard address or a point on the map."""

    channel: Channel
    category_id: int
    description: str
    address_text: str
    caller_name: str = ""
    caller_phone: str = ""
    address_id: int | None = None
    location: Location | None = None
    urgent: bool | None = None
    client_uuid: uuid.UUID | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict)
    source: Source = Source.HOTLINE
    media_url: str = ""  # a checked http(s) URL (Open311 clients link a photo this way)
    # 12345 work orders: the type (咨询, 投诉 …) and, if the operator picks one, the reply
    # term; empty: the type's default (dispatch.hotline starts the reply clock).
    ticket_type: str = ""
    reply_term: str = ""


# Called with a new case before it is first saved: what the caller adds to every new case
# (dispatch: the deadlines that run from the intake), written in the case's one INSERT.
Prepare = Callable[[Case], None]
# Called with the new case after its history entry, in the same transaction and savepoint
# (dispatch: 自动立案派遣). The case was inserted by this very block, so no other
# transaction can see it yet: nothing to lock, and its state is the intake's.
Then = Callable[[Case], None]
# The active category of an id, or None (dispatch: from its per-process copy of the
# catalogue, dispatch.reference); without it the intake reads the catalogue.
Categories = Callable[[int], Category | None]


@dataclass(frozen=True)
class Intake:
    case: Case
    created: bool  # False: the same report was sent before and this is its case


def case_report(
    *,
    user: User,
    report: Report,
    prepare: Prepare | None = None,
    then: Then | None = None,
    categories: Categories | None = None,
) -> Intake:
    staff = _staff_with_role(user, Role.INSPECTOR)
    photos = check_photos(report.photos)
    body = _fingerprint(report, photos)
    if (earlier := _earlier(report.client_uuid, body, user, report.location)) is not None:
        return earlier
    category = _category(report.category_id, categories)
    point = _point(report.location)
    placement = _place(point)
    if staff is not None:
        _check_own_cells(staff, placement, point)
    case = _new_case(
        source=Source.INSPECTOR,
        channel=Channel.APP,
        category=category,
        urgent=report.urgent,
        description=report.description,
        point=point,
        location=report.location,
        placement=placement,
        reporter=user,
    )
    case.client_uuid = report.client_uuid
    case.body_hash = body
    case.component_code = _component(report.component_code)
    case.entity_id = _entity(report.entity_id)
    return _save_new(case, user, staff, photos, prepare, then)


def case_ticket(
    *,
    user: User,
    ticket: Ticket,
    prepare: Prepare | None = None,
    then: Then | None = None,
    categories: Categories | None = None,
) -> Intake:
    staff = _staff_with_role(user, Role.HOTLINE)
    body = _fingerprint(ticket, [])
    if ticket.client_uuid and (
        earlier := _earlier(ticket.client_uuid, body, user, ticket.location)
    ):
        return earlier
    if ticket.channel == Channel.APP:
        raise InvalidInput(_("热线工单的渠道应为电话、短信、微信、微博或网站。"), field="channel")
    category = _category(ticket.category_id, categories)
    address, point, datum = _ticket_point(ticket)
    case = _new_case(
        source=ticket.source,
        channel=ticket.channel,
        category=category,
        urgent=ticket.urgent,
        description=ticket.description,
        point=point,
        location=ticket.location or Location(point.x, point.y, datum),
        placement=_place(point),
        reporter=user,
    )
    case.client_uuid = ticket.client_uuid
    case.body_hash = body
    case.address = address
    case.address_text = ticket.address_text.strip()
    case.attributes = ticket.attributes
    case.media_url = ticket.media_url
    case.caller_name = ticket.caller_name.strip()
    case.caller_phone = _phone(ticket.caller_phone)
    case.ticket_type = _choice(ticket.ticket_type, TicketType, "ticket_type")
    case.reply_term = _choice(ticket.reply_term, ReplyTerm, "reply_term")
    if case.reply_term and not case.ticket_type:
        raise InvalidInput(_("选择答复时限类别前请先选择工单类型。"), field="ticket_type")
    return _save_new(case, user, staff, [], prepare, then)


def _choice(value: str, choices: type[TicketType] | type[ReplyTerm], field: str) -> str:
    value = value.strip()
    if value and value not in choices.values:
        allowed = "、".join(f"{v}({label})" for v, label in choices.choices)
        raise InvalidInput(
            _("%(value)s 不是可选的值（可选：%(allowed)s）。")
            % {"value": value[:20], "allowed": allowed},
            field=field,
        )
    return value


def ticket_number(case: Case) -> str:
    """The number a 12345 caller is given: the intake's local date and the case id
    (e.g. 20261204-0000123). Unique because the id is; never changes afterwards."""
    day = timezone.localtime(case.created_at).strftime("%Y%m%d")
    return f"{day}-{case.pk:07d}"


def _staff_with_role(user: User, role: Role) -> Staff | None:
    staff = staff_of(user)
    if is_superuser(user):
        return staff
    if staff is None or staff.role != role:
        raise NotPermitted(_("只有%(role)s可以提交此类上报。") % {"role": role.label})
    return staff


def _fingerprint(request: Report | Ticket, photos: list[CheckedPhoto]) -> str:
    """The body of a report, for telling a resend from another report under its UUID.
    The point is not in it (its datum and accuracy are): floats are compared at
    COORDINATE_TOLERANCE by _same_place, which a hash cannot do."""
    fields = {
        k: v for k, v in vars(request).items() if k not in {"photos", "client_uuid", "location"}
    }
    if request.location is not None:
        fields["location"] = {
            k: v for k, v in vars(request.location).items() if k not in {"lon", "lat"}
        }
    fields["photos"] = [p.sha256 for p in photos]
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _earlier(
    client_uuid: uuid.UUID, body: str, user: User, location: Location | None
) -> Intake | None:
    # Only what a resend is compared by: nearly every report is new, and a full row costs
    # the ORM a statement of ~70 columns (a resend's other fields load when read). One
    # kept statement: compiling the ORM's query cost more than running it.
    with kept_cursor() as cursor:
        cursor.execute(_RESEND_SQL, [client_uuid])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    values[_RESEND_GEOM_AT] = GEOSGeometry(values[_RESEND_GEOM_AT])  # hex EWKB, as the ORM
    case = Case.from_db(connection.alias, _RESEND_NAMES, values)  # the others deferred
    same = case.body_hash == body and case.reporter_id == user.pk
    if not (same and _same_place(case, location)):
        raise _used_uuid(client_uuid, case, user)
    return Intake(case=case, created=False)


# What Case.objects.only("body_hash", "reporter_id", "address_id", "geom") reads, in the
# model's order (Model.from_db wants them so).
_RESEND_FIELDS = [
    f
    for f in Case._meta.concrete_fields
    if f.attname in {"id", "body_hash", "reporter_id", "address_id", "geom"}
]
_RESEND_NAMES = [f.attname for f in _RESEND_FIELDS]
_RESEND_GEOM_AT = _RESEND_NAMES.index("geom")
_RESEND_SQL = (
    f"SELECT {', '.join(str(f.column) for f in _RESEND_FIELDS)}"
    f" FROM {Case._meta.db_table} WHERE client_uuid = %s"
)


def _same_place(case: Case, location: Location | None) -> bool:
    """Whether a resend's point is the case's, at COORDINATE_TOLERANCE. A ticket placed
    at a standard address (the fingerprint holds its id) has the address's point: the
    point a client sent beside it placed nothing and is not compared."""
    if location is None or case.address_id is not None:
        return True
    if not (math.isfinite(location.lon) and math.isfinite(location.lat)):
        return False
    x, y = point_to_storage(location.lon, location.lat, location.datum)
    return (
        abs(case.geom.x - x) <= COORDINATE_TOLERANCE
        and abs(case.geom.y - y) <= COORDINATE_TOLERANCE
    )


def _location_of(case: Case) -> Location:
    """An unsaved case's point as a location in storage's datum (WGS 84)."""
    return Location(case.geom.x, case.geom.y, Datum.WGS84)


def _used_uuid(client_uuid: uuid.UUID, case: Case, user: User) -> Conflict:
    # The case is named only to whom may see it: a UUID must not probe other scopes.
    if visible_cases(user).filter(pk=case.pk).exists():
        message = _(
            "客户端编号 %(uuid)s 已用于另一份上报(案件 #%(id)d)；新的上报请使用新的编号。"
        ) % {"uuid": client_uuid, "id": case.pk}
    else:
        message = _("客户端编号 %(uuid)s 已被使用；新的上报请使用新的编号。") % {
            "uuid": client_uuid
        }
    return Conflict(message, field="client_uuid")


def _category(category_id: int, categories: Categories | None) -> Category:
    if categories is not None:
        category = categories(category_id)
    else:
        category = Category.objects.filter(pk=category_id, active=True).first()
    if category is None:
        raise InvalidInput(
            _("分类 %(id)s 不存在或已停用。") % {"id": category_id}, field="category"
        )
    if category.is_major:
        raise InvalidInput(
            _("“%(name)s”是大类，请选择其下的小类。") % {"name": category.display_name},
            field="category",
        )
    return category


def _point(location: Location) -> Point:
    if not (math.isfinite(location.lon) and math.isfinite(location.lat)):
        raise InvalidInput(_("经纬度必须是有限的数值。"), field="location")
    if not (-180 <= location.lon <= 180 and -90 <= location.lat <= 90):
        raise InvalidInput(
            _("经纬度超出范围：经度应在 -180 到 180，纬度在 -90 到 90 之间。"), field="location"
        )
    if location.accuracy_m is not None and not (0 <= location.accuracy_m < 100_000):
        raise InvalidInput(_("定位精度应为 0 到 100000 米。"), field="accuracy_m")
    x, y = point_to_storage(location.lon, location.lat, location.datum)
    return Point(x, y, srid=settings.GRID_SRID)


def _place(point: Point) -> Placement:
    try:
        return place_point(point)
    except OutsideCity as error:
        raise InvalidInput(str(error), field="location") from None


def _check_own_cells(staff: Staff, placement: Placement, point: Point) -> None:
    cells = staff.cells.through
    if cells.objects.filter(staff_id=staff.pk, area_id=placement.cell.pk).exists():
        return
    tolerance = settings.INSPECTOR_CELL_TOLERANCE_M
    with connection.cursor() as cursor:
        # Metres on the spheroid (geography), not degrees.
        cursor.execute(
            f"""
            SELECT EXISTS (
                SELECT 1 FROM {cells._meta.db_table} own
                JOIN layers_area cell ON cell.id = own.area_id
                WHERE own.staff_id = %s
                  AND ST_DWithin(cell.geom::geography, ST_GeomFromEWKB(%s)::geography, %s)
            )""",
            [staff.pk, bytes(point.ewkb), tolerance],
        )
        row = cursor.fetchone()
    if not (row and row[0]):
        raise InvalidInput(
            _(
                "该位置在网格 %(cell)s（%(name)s），不在您负责的网格内，"
                "且距离超过 %(tolerance)d 米；请核对定位或由该网格的网格员上报。"
            )
            % {"cell": placement.cell.code, "name": placement.cell.name, "tolerance": tolerance},
            field="location",
        )


def _component(code: str) -> str:
    code = code.strip()
    if not code:
        return ""
    try:
        validate_component_code(code)
    except InvalidCode as error:
        raise InvalidInput(str(error), field="component_code") from None
    if not Component.objects.filter(code=code).exists():
        raise InvalidInput(
            _("部件编码 %(code)s 不在部件库中。") % {"code": code}, field="component_code"
        )
    return code


def _entity(entity_id: int | None) -> int | None:
    if entity_id is not None and not LegalEntity.objects.filter(pk=entity_id).exists():
        raise InvalidInput(_("单位 %(id)s 不存在。") % {"id": entity_id}, field="entity")
    return entity_id


def _phone(phone: str) -> str:
    if not phone.strip():
        return ""
    try:
        return validate_phone(phone)
    except InvalidCode as error:
        raise InvalidInput(str(error), field="caller_phone") from None


def _ticket_point(ticket: Ticket) -> tuple[Address | None, Point, Datum]:
    if not ticket.address_text.strip():
        raise InvalidInput(_("请填写来电人描述的地址。"), field="address_text")
    if ticket.address_id is not None:
        address = Address.objects.filter(pk=ticket.address_id).first()
        if address is None:
            raise InvalidInput(
                _("标准地址 %(id)s 不存在。") % {"id": ticket.address_id}, field="address_id"
            )
        return address, address.geom, Datum.WGS84
    if ticket.location is None:
        raise InvalidInput(_("请确认一个标准地址候选，或在地图上选取位置。"), field="address_id")
    return None, _point(ticket.location), ticket.location.datum


def _new_case(
    *,
    source: Source,
    channel: Channel,
    category: Category,
    urgent: bool | None,
    description: str,
    point: Point,
    location: Location,
    placement: Placement,
    reporter: User,
) -> Case:
    description = description.strip()
    if not description:
        raise InvalidInput(_("请描述问题。"), field="description")
    if len(description) > 4000:
        raise InvalidInput(
            _("问题描述最多4000字，收到%(n)d字。") % {"n": len(description)}, field="description"
        )
    now = clock.now()
    return Case(
        source=source,
        channel=channel,
        category=category,
        urgent=category.urgent_by_default if urgent is None else urgent,
        description=description,
        geom=point,
        datum=location.datum.value,
        accuracy_m=location.accuracy_m,
        cell=placement.cell,
        community=placement.community,
        street=placement.street,
        district=placement.district,
        reporter=reporter,
        state=State.REPORTED,
        created_at=now,
        updated_at=now,
    )


def _save_new(
    case: Case,
    user: User,
    staff: Staff | None,
    photos: list[CheckedPhoto],
    prepare: Prepare | None,
    then: Then | None,
) -> Intake:
    if prepare is not None:
        prepare(case)
    try:
        # The history rows and live events of the block (the report's, and those of
        # 自动立案派遣 in `then`) are written together as it ends: one INSERT each.
        # The block's own savepoint stays, inside a request's transaction too: it is
        # what lets the request go on after a concurrent resend's INSERT of the same
        # UUID failed (below), to answer with that case; without it the failed INSERT
        # would abort the request's whole transaction.
        with transaction.atomic(), history.batched():
            if case.source == Source.HOTLINE:
                # The number needs the id: saved first, numbered, then the history entry
                # (which saves the case again) carries the number in its live event.
                case.updated_at = clock.now()
                case_insert.insert(case)
                case.ticket_no = ticket_number(case)
            # A report's case is inserted by record(); a ticket's gets its number.
            numbered = None if case.ticket_no is None else ["ticket_no"]
            event = record(
                case, action="report", from_state="", actor=user, staff=staff, fields=numbered
            )
            attach(case, photos, event)
            if then is not None:
                then(case)
    except IntegrityError:
        # The same UUID committed by a concurrent resend of this report.
        if case.client_uuid is None:
            raise
        earlier = _earlier(case.client_uuid, case.body_hash, user, _location_of(case))
        if earlier is None:
            raise
        return earlier
    return Intake(case=case, created=True)
