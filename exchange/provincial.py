"""The provincial 12345 platform's JSON exchange (docs/exchange.md).

Import: a batch of the platform's tickets becomes cases through the hotline's intake
(incidents.services.case_ticket), one transaction per ticket; a ticket number seen before
is answered with its case and not filed again (idempotent by ticket number). A ticket
that cannot be filed is rejected with its reason; the others go on.

Export: 回单, the result of each imported ticket's case — its state, unit, the handling
reply and when it was closed — for the tickets whose cases changed since a moment.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypedDict

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from exchange.models import ProvincialTicket
from gridmgmt import clock
from incidents.errors import CaseError, InvalidInput, NotPermitted
from incidents.models import Case, CaseEvent, Channel, TicketType
from incidents.services import Location, Ticket, case_ticket
from layers.access import is_superuser, staff_of
from layers.datum import Datum
from layers.models import Category, CategoryKind, Role

FORMAT = "gridmgmt-12345/1"


class Rejected(TypedDict):
    index: int
    ticket_no: str
    detail: str
    field: str | None


class ImportResult(TypedDict):
    created: list[dict[str, Any]]
    existing: list[dict[str, Any]]
    rejected: list[Rejected]


def import_tickets(*, user: User, batch: dict[str, Any]) -> ImportResult:
    """File each ticket of `batch` ({"tickets": [...]}) as `user` (a 12345 seat)."""
    if not may_exchange(user):
        raise NotPermitted(_("只有12345坐席可以与省平台交换工单。"))
    tickets = batch.get("tickets") if isinstance(batch, dict) else None
    if not isinstance(tickets, list):
        raise InvalidInput(_("批量导入须为包含 tickets 列表的 JSON 对象。"), field="tickets")
    result = ImportResult(created=[], existing=[], rejected=[])
    for index, raw in enumerate(tickets):
        number = str(raw.get("ticket_no", "")).strip() if isinstance(raw, dict) else ""
        try:
            if not number:
                raise InvalidInput(_("缺少工单号。"), field="ticket_no")
            known = ProvincialTicket.objects.filter(ticket_no=number).first()
            if known is not None:
                result["existing"].append({"ticket_no": number, "case_id": known.case_id})
                continue
            with transaction.atomic():
                created = _file(user, number, raw)
            result["created"].append({"ticket_no": number, "case_id": created.case_id})
        except CaseError as error:
            result["rejected"].append(
                Rejected(index=index, ticket_no=number, detail=error.message, field=error.field)
            )
        except IntegrityError:  # the same number filed meanwhile by another import
            known = ProvincialTicket.objects.get(ticket_no=number)
            result["existing"].append({"ticket_no": number, "case_id": known.case_id})
    return result


def may_exchange(user: User) -> bool:
    """12345 seats (and superusers) exchange tickets with the province."""
    staff = staff_of(user)
    return is_superuser(user) or (staff is not None and staff.role == Role.HOTLINE)


def _file(user: User, number: str, raw: dict[str, Any]) -> ProvincialTicket:
    ticket_type = str(raw.get("type", "")).strip()[:30]
    attributes = {"provincial_ticket_no": [number]}
    if ticket_type:
        attributes["provincial_type"] = [ticket_type]
    if raw.get("notify_on_close"):
        attributes["notify_on_close"] = ["true"]
    ticket = Ticket(
        channel=_channel(raw.get("channel", Channel.PHONE)),
        category_id=_category(raw.get("category")),
        description=str(raw.get("description", "")).strip()[:4000],
        address_text=str(raw.get("address", "")).strip()[:200],
        caller_name=str(raw.get("caller_name", "")),
        caller_phone=str(raw.get("caller_phone", "")),
        location=_location(raw),
        urgent=bool(raw["urgent"]) if "urgent" in raw else None,
        attributes=attributes,
        ticket_type=_ticket_type(ticket_type),
    )
    if not ticket.description:
        raise InvalidInput(_("请填写问题描述。"), field="description")
    intake = case_ticket(user=user, ticket=ticket)
    return ProvincialTicket.objects.create(
        ticket_no=number, ticket_type=ticket_type, case=intake.case,
        received_at=_moment(raw.get("received_at")), imported_at=clock.now(),
    )  # fmt: skip


def _ticket_type(given: str) -> str:
    """The case's ticket type (its reply clock) from the platform's, by value or by its
    Chinese name (投诉 → complaint); another name is 其他 (the platform's word is kept in
    the attributes and on the ProvincialTicket)."""
    for value, label in TicketType.choices:
        if given in (value, str(label)):
            return str(value)
    return TicketType.OTHER.value


def _channel(value: object) -> Channel:
    try:
        return Channel(str(value))
    except ValueError:
        raise InvalidInput(
            _("未知的受理渠道：%(value)s。") % {"value": value}, field="channel"
        ) from None


def _category(code: object) -> int:
    text = str(code or "")
    found = Category.objects.filter(
        kind=CategoryKind.EVENT, major_code=text[:2], minor_code=text[2:], active=True
    ).first()
    if len(text) != 4 or found is None:
        raise InvalidInput(_("未知的事件分类编码：%(code)s。") % {"code": text}, field="category")
    return found.pk


def _location(raw: dict[str, Any]) -> Location | None:
    if raw.get("lon") is None and raw.get("lat") is None:
        return None
    try:
        return Location(float(raw["lon"]), float(raw["lat"]), Datum(raw.get("datum", "wgs84")))
    except (KeyError, TypeError, ValueError):
        raise InvalidInput(_("坐标无效：需要 lon、lat 和坐标系 datum。"), field="lon") from None


def _moment(value: object) -> dt.datetime | None:
    parsed = parse_datetime(str(value)) if value else None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


def results(*, since: dt.datetime | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """回单: the imported tickets whose cases changed after `since` (all without it), the
    oldest change first, and marks them exported."""
    rows = ProvincialTicket.objects.select_related("case__unit")
    if since is not None:
        rows = rows.filter(case__updated_at__gt=since)
    picked = list(rows.order_by("case__updated_at", "pk")[:limit])
    out = [_result(row) for row in picked]
    now = clock.now()
    ProvincialTicket.objects.filter(pk__in=[r.pk for r in picked]).update(exported_at=now)
    return out


def _result(row: ProvincialTicket) -> dict[str, Any]:
    case: Case = row.case
    # The hotline's reply (答复) when there is one, else the unit's handling report.
    handled = CaseEvent.objects.filter(case=case, action="handle").order_by("-at", "-id").first()
    reply = case.reply or (handled.note if handled else "")
    return {
        "ticket_no": row.ticket_no,
        "type": row.ticket_type,
        "case_id": case.pk,
        "state": case.state,
        "closed": case.state == "closed",
        "unit": case.unit.name if case.unit else None,
        "reply": reply,
        "replied_at": _iso(case.replied_at),
        "handled_at": _iso(case.handled_at),
        "closed_at": _iso(case.closed_at),
        "closed_on_time": case.closed_on_time,
        "updated_at": _iso(case.updated_at),
    }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None
