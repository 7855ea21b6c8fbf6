"""Service requests as GeoReport v2 shows them (GET requests, GET requests/{id}), and
who reads which. Filing one is open311.filing.

- Reading is public, as the standard has it (no api_key needed), within what the city
  makes public (open311.privacy): the cases of OPEN311_PUBLIC_SOURCES (never 12345
  tickets by default), phone and ID numbers in their texts masked, points rounded to
  OPEN311_PUBLIC_DECIMALS. With an api_key, its application's intake scope: the cases
  placed in that area, through incidents.access.visible_cases() of the application's
  service user, points at full precision, texts masked all the same. A wrong or revoked
  key is refused (403) rather than read as no key.
- Never returned: the caller's name and phone, the reporter, the e-mail, device and
  account an Open311 client sent, staff notes and attribute answers. `status_notes` and
  the `notes` of extensions=true are written from the state and the history's actions,
  never from free text that staff typed.
- Statuses: open until the case is closed (结案), cancelled (注销) or merged (合并); the
  case's own state is in status_notes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dispatch.transitions import TRANSITIONS
from gridmgmt import clock
from incidents.access import visible_cases
from incidents.models import FINAL_STATES, Case, CaseEvent, State
from layers.access import apply_scope, within
from layers.datum import Datum, point_from_storage
from layers.models import Category, LimitUnit
from open311 import params, privacy
from open311.catalogue import category_for, service_code
from open311.errors import BadRequest, NotFound
from open311.models import ClientApplication
from open311.params import w3c

MAX_SPAN = dt.timedelta(days=90)  # the longest start_date..end_date range
MAX_PAGE_SIZE = 1000  # and the default: "the first 1000 requests"
MAX_IDS = 1000

_STATUS_NOTES = {
    State.REPORTED: gettext_lazy("已受理，等待立案审核"),
    State.FILED: gettext_lazy("已立案，等待派遣"),
    State.DISPATCHED: gettext_lazy("已派遣，等待处置单位签收"),
    State.SIGNED: gettext_lazy("处置单位处置中"),
    State.RETURNED: gettext_lazy("派遣有误已退回，等待重新派遣"),
    State.SUSPENDED: gettext_lazy("缓办中"),
    State.HANDLED: gettext_lazy("已处置，等待现场核查"),
    State.REWORK: gettext_lazy("核查未通过，返工中"),
    State.VERIFIED: gettext_lazy("核查通过，等待结案"),
    State.CLOSED: gettext_lazy("已结案"),
    State.CANCELLED: gettext_lazy("已注销：不符合立案条件"),
    State.MERGED: gettext_lazy("与 %(id)s 号为同一问题，已合并处理，请查询该编号"),
}
# History actions that are not workflow transitions (dispatch.transitions).
_OTHER_ACTIONS = {
    "report": gettext_lazy("上报"),
    "merge_in": gettext_lazy("同一问题的其他上报已合并至此"),
    "warning": gettext_lazy("即将超期"),
    "overdue": gettext_lazy("已超期，上一级催办"),
    "supervise": gettext_lazy("超期未处置，市级督办"),
}


def readable_cases(client: ClientApplication | None) -> QuerySet[Case]:
    """The cases a reader sees: the city's public ones (no key), or its application's
    scope. The single request's GET asks the same, so a hidden case is a 404 there too."""
    if client is None:
        return Case.objects.filter(source__in=privacy.public_sources())
    assert client.user is not None  # every saved application has one (open311.clients)
    return apply_scope(visible_cases(client.user), within(client.scope))


@dataclass(frozen=True)
class RequestQuery:
    ids: list[int]
    service_codes: list[str]
    start: dt.datetime
    end: dt.datetime
    statuses: frozenset[str]
    page: int
    page_size: int
    extensions: bool

    @classmethod
    def from_params(cls, query: QueryDict) -> RequestQuery:
        start, end = _period(
            params.datetime_(query, "start_date"), params.datetime_(query, "end_date")
        )
        statuses = frozenset(params.listed(query, "status"))
        if not statuses <= {"open", "closed"}:
            raise BadRequest(_("status 只能是 open 或 closed（可用逗号分隔两者）。"))
        return cls(
            ids=_ids(params.listed(query, "service_request_id")),
            service_codes=params.listed(query, "service_code"),
            start=start,
            end=end,
            statuses=statuses,
            page=params.integer(query, "page", default=1, low=1, high=1_000_000),
            page_size=params.integer(
                query, "page_size", default=MAX_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE
            ),
            extensions=params.boolean(query, "extensions"),
        )


def _ids(values: list[str]) -> list[int]:
    if len(values) > MAX_IDS:
        raise BadRequest(_("service_request_id 一次最多 %(max)d 个。") % {"max": MAX_IDS})
    wrong = [value for value in values if not (value.isascii() and value.isdigit())]
    if wrong:
        raise BadRequest(
            _("service_request_id 应为数字编号，收到 %(ids)s。")
            % {"ids": "、".join(w[:20] for w in wrong[:5])}
        )
    return [int(value) for value in values]


def _period(start: dt.datetime | None, end: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    """The requested_datetime range: the given one, at most 90 days; by default the 90
    days up to end_date (or now), or the 90 days from start_date."""
    if start is None and end is None:
        end = clock.now()
    if start is None:
        assert end is not None
        return end - MAX_SPAN, end
    if end is None:
        return start, start + MAX_SPAN
    if end < start:
        raise BadRequest(_("end_date 早于 start_date。"))
    if end - start > MAX_SPAN:
        raise BadRequest(_("start_date 到 end_date 最多 90 天。"))
    return start, end


def request_list(client: ClientApplication | None, query: RequestQuery) -> list[dict[str, Any]]:
    """GET requests: newest first, one page."""
    cases = _with_related(readable_cases(client), notes=query.extensions)
    if query.ids:
        # "This overrides all other arguments" (the paging excepted: a page is a page).
        cases = cases.filter(pk__in=query.ids)
    else:
        if query.service_codes:
            categories = [category_for(code).pk for code in query.service_codes]
            cases = cases.filter(category_id__in=categories)
        cases = cases.filter(created_at__gte=query.start, created_at__lte=query.end)
        if query.statuses == {"open"}:
            cases = cases.exclude(state__in=FINAL_STATES)
        elif query.statuses == {"closed"}:
            cases = cases.filter(state__in=FINAL_STATES)
    first = (query.page - 1) * query.page_size
    page = cases.order_by("-created_at", "-id")[first : first + query.page_size]
    public = client is None
    return [request_dict(case, notes=query.extensions, public=public) for case in page]


def request_detail(
    client: ClientApplication | None, request_id: str, *, notes: bool
) -> dict[str, Any]:
    """GET requests/{id}: the one request, or NotFound (unknown and unreadable alike)."""
    found = None
    if request_id.isascii() and request_id.isdigit():
        found = (
            _with_related(readable_cases(client), notes=notes).filter(pk=int(request_id)).first()
        )
    if found is None:
        raise NotFound(_("没有编号为 %(id)s 的服务请求。") % {"id": request_id[:20]})
    return request_dict(found, notes=notes, public=client is None)


def _with_related(cases: QuerySet[Case], *, notes: bool) -> QuerySet[Case]:
    cases = cases.select_related("category", "unit", "address").defer("address__search_text")
    if notes:
        history = CaseEvent.objects.select_related("unit").only(
            "case_id", "at", "action", "data", "unit__name"
        )
        cases = cases.prefetch_related(Prefetch("history", history.order_by("at", "id")))
    return cases


def request_dict(case: Case, *, notes: bool = False, public: bool = True) -> dict[str, Any]:
    """One request. Free text is masked for every reader (it may hold a caller's phone
    or ID number); `public` (no key) also rounds the point to the public precision."""
    lon, lat = point_from_storage(case.geom.x, case.geom.y, Datum.WGS84)
    lon, lat = (privacy.public_coordinate(v) if public else round(v, 7) for v in (lon, lat))
    address = case.address
    address_text = case.address_text or (address.text if address else None)
    text = privacy.public_text if public else privacy.mask_numbers
    found: dict[str, Any] = {
        "service_request_id": str(case.pk),
        "status": "closed" if case.state in FINAL_STATES else "open",
        "status_notes": status_notes(case),
        "service_name": case.category.name,
        "service_code": service_code(case.category),
        "description": text(case.description),
        "agency_responsible": case.unit.name if case.unit else None,
        "service_notice": time_limit_notice(case.category, urgent=case.urgent),
        "requested_datetime": w3c(case.created_at),
        "updated_datetime": w3c(case.updated_at),
        "expected_datetime": w3c(case.due_at),
        "address": text(address_text) if address_text else None,
        "address_id": address.code if address else None,
        "zipcode": None,
        "lat": lat,
        "long": lon,
        "media_url": case.media_url or None,
    }
    if notes:
        found["notes"] = [_note(event) for event in case.history.all()]
    return found


def status_notes(case: Case) -> str:
    note = str(_STATUS_NOTES[State(case.state)])
    if case.state == State.MERGED:
        note = note % {"id": case.merged_into_id}
    if case.overdue and case.state not in FINAL_STATES:
        note += _("（已超期）")
    return note


def time_limit_notice(category: Category, *, urgent: bool) -> str | None:
    limit = category.urgent_time_limit if urgent else category.time_limit
    unit = category.urgent_limit_unit if urgent else category.limit_unit
    if not limit:
        return None
    return _("处置时限 %(n)d %(unit)s，自派遣起计。") % {"n": limit, "unit": LimitUnit(unit).label}


def _note(event: CaseEvent) -> dict[str, Any]:
    transition = TRANSITIONS.get(event.action)
    label = str(transition.label if transition else _OTHER_ACTIONS.get(event.action, event.action))
    if event.action in ("dispatch", "escalate") and event.unit is not None:
        label = f"{label} → {event.unit.name}"
    elif event.action == "merge" and event.data.get("into"):
        label = f"{label} → {event.data['into']}"
    return {"datetime": w3c(event.at), "description": label, "type": event.action}
