"""The case API under /api/cases/: intake, lists, details and one endpoint per action.

Views parse the request, call one service, render. Who may see a case is
incidents.access; what they may do is dispatch.permissions (the services check
with it, and a case detail lists it as `allowed_actions`).
Domain errors become JSON: {"detail": message, "code": …, "field": …} with 400, 403,
404 or 409 (gridmgmt.api_errors).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any, cast

from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.db import transaction
from django.db.models import F, Prefetch, Q, QuerySet
from django.http import FileResponse, QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer

from audit.middleware import atomic_write
from dispatch import reference, services
from dispatch.api import serializers as s
from dispatch.board import case_counters, needing_attention
from dispatch.models import Assignment, CasePart, PartState
from dispatch.permissions import allowed_actions, awaiting_decision, facts_of
from gridmgmt import clock
from incidents import services as intake
from incidents.access import can_see_caller, visible_cases
from incidents.duplicates import likely_duplicates, likely_duplicates_seen_by
from incidents.errors import CaseNotFound
from incidents.models import FINAL_STATES, Case, CaseEvent, CasePhoto, State
from layers.access import apply_scope, staff_of, visible_records, within
from layers.datum import Datum
from layers.models import Address, Area, Category

ERROR = OpenApiResponse(
    response={
        "type": "object",
        "properties": {
            "detail": {"type": "string"},
            "code": {"type": "string"},
            "field": {"type": "string", "nullable": True},
        },
    },
    description="What is wrong, in words a person can act on; `field` names the input.",
)
ERRORS = {400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR}


OPEN_STATES = sorted(set(State.values) - FINAL_STATES)

ActionCall = Callable[[Any, int, dict[str, Any]], Any]

# action name → (input serializer, service call with the validated input)
ACTIONS: dict[str, tuple[type[Serializer[Any]], ActionCall]] = {
    "file": (s.NoteIn, lambda u, i, d: services.case_file(user=u, case_id=i, **d)),
    "cancel": (s.ReasonIn, lambda u, i, d: services.case_cancel(user=u, case_id=i, **d)),
    "merge": (
        s.MergeIn,
        lambda u, i, d: services.case_merge(
            user=u,
            case_id=i,
            into_id=d["into"],
            note=d["note"],
            expected_state=d["expected_state"],
        ),
    ),
    "dispatch": (
        s.DispatchIn,
        lambda u, i, d: services.case_dispatch(
            user=u,
            case_id=i,
            unit_id=d["unit"],
            note=d["note"],
            expected_state=d["expected_state"],
            co_unit_ids=d["co_units"],
        ),
    ),
    "sign": (s.NoteIn, lambda u, i, d: services.case_sign(user=u, case_id=i, **d)),
    "return": (s.ReasonIn, lambda u, i, d: services.case_return(user=u, case_id=i, **d)),
    "request_extension": (
        s.ExtensionIn,
        lambda u, i, d: services.case_request_extension(user=u, case_id=i, **d),
    ),
    "approve_extension": (
        s.NoteIn,
        lambda u, i, d: services.case_decide_extension(user=u, case_id=i, approve=True, **d),
    ),
    "reject_extension": (
        s.NoteIn,
        lambda u, i, d: services.case_decide_extension(user=u, case_id=i, approve=False, **d),
    ),
    "resume": (s.NoteIn, lambda u, i, d: services.case_resume(user=u, case_id=i, **d)),
    "handle": (s.HandleIn, lambda u, i, d: services.case_handle(user=u, case_id=i, **d)),
    "verify": (s.VerifyIn, lambda u, i, d: services.case_verify(user=u, case_id=i, **d)),
    # The outcome in the name, as allowed_actions names them.
    "verify_pass": (
        s.VerifyAsIn,
        lambda u, i, d: services.case_verify(user=u, case_id=i, passed=True, **d),
    ),
    "verify_fail": (
        s.VerifyAsIn,
        lambda u, i, d: services.case_verify(user=u, case_id=i, passed=False, **d),
    ),
    "close": (s.NoteIn, lambda u, i, d: services.case_close(user=u, case_id=i, **d)),
    "escalate": (s.ReasonIn, lambda u, i, d: services.case_escalate(user=u, case_id=i, **d)),
    "redispatch": (
        s.RedispatchIn,
        lambda u, i, d: services.case_redispatch(
            user=u,
            case_id=i,
            unit_id=d["unit"],
            reason=d["reason"],
            expected_state=d["expected_state"],
            co_unit_ids=d["co_units"],
        ),
    ),
    "supervise": (
        s.SuperviseIn,
        lambda u, i, d: services.case_supervise(user=u, case_id=i, **d),
    ),
    "close_direct": (
        s.ReplyIn,
        lambda u, i, d: services.case_close_direct(user=u, case_id=i, **d),
    ),
    "reply": (s.ReplyIn, lambda u, i, d: services.case_reply(user=u, case_id=i, **d)),
    "callback": (s.CallbackIn, lambda u, i, d: services.case_callback(user=u, case_id=i, **d)),
    "split": (
        s.SplitIn,
        lambda u, i, d: services.case_split(
            user=u,
            case_id=i,
            children=[
                services.Child(c["category"], c["unit"], c["description"]) for c in d["children"]
            ],
            note=d["note"],
            expected_state=d["expected_state"],
        ),
    ),
    # 协办: a co-unit's own part.
    "co_sign": (s.NoteIn, lambda u, i, d: services.case_co_sign(user=u, case_id=i, **d)),
    "co_handle": (s.CoHandleIn, lambda u, i, d: services.case_co_handle(user=u, case_id=i, **d)),
}


def _cases() -> QuerySet[Case]:
    """Cases with what the serializers read. The four areas and two users come by
    prefetch (one small query each) rather than as six more joins: a ten-table join
    with the scope's OR-subquery let PostgreSQL pick, on fresh statistics, a plan that
    rescanned a hash join for minutes."""
    areas = Area.objects.defer("geom")
    return Case.objects.select_related("category", "unit", "supervising_unit").prefetch_related(
        *(Prefetch(tier, areas) for tier in ("cell", "community", "street", "district")),
        "reporter",
        "verifier",
    )


class CaseViewSet(viewsets.GenericViewSet[Case]):
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    serializer_class = s.CaseOut

    def get_queryset(self) -> QuerySet[Case]:
        return visible_cases(self.request.user, _cases())

    @cached_property
    def _datum(self) -> Datum:
        """The request's ?datum= (read once: an intake renders the case and its duplicates)."""
        query = s.DatumQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return cast(Datum, query.validated_data["datum"])

    def _render(self, data: Any, *, many: bool = False, detail: bool = False, **extra: Any) -> Any:
        ctx = s.context(self._datum, can_see_caller(self.request.user))
        ctx.update(extra)
        serializer = s.CaseDetailOut if detail else s.CaseOut
        return serializer(data, many=many, context=ctx).data

    def _case(self, pk: Any, queryset: QuerySet[Case] | None = None) -> Case:
        # An id is ASCII digits: int() would also read " 12", "1_2" or "١٢" as a number.
        text = str(pk)
        try:
            if not (text.isascii() and text.isdigit()):
                raise ValueError(text)
            return (self.get_queryset() if queryset is None else queryset).get(pk=int(text))
        except (Case.DoesNotExist, ValueError):
            raise CaseNotFound(
                _("没有编号为 %(id)s 的案件，或您无权查看。") % {"id": text[:40]}
            ) from None

    @extend_schema(
        summary="List cases",
        description="Cases the user may see, newest first, filtered and paged.",
        parameters=[s.CaseListQuery],
        responses={200: s.CaseOut(many=True), 400: ERROR},
    )
    def list(self, request: Request) -> Response:
        query = s.CaseListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        cases = _filtered(self.get_queryset(), request, query.validated_data)
        page = self.paginate_queryset(cases)
        return self.get_paginated_response(self._render(page, many=True))

    @extend_schema(
        summary="Board: live counters and the cases to chase",
        description="For the user's cases: received today, open, overdue, closed on time "
        "today; and the open cases that are overdue or under 催办/督办, most urgent first.",
        parameters=[s.DatumQuery],
        responses={200: s.BoardOut},
    )
    @action(detail=False, methods=["get"])
    def board(self, request: Request) -> Response:
        now = clock.now()
        cases = self.get_queryset()
        body = {
            "as_of": now,
            "counters": case_counters(cases, now=now),
            "attention": self._render(needing_attention(cases), many=True),
        }
        return Response(s.BoardOut(body).data)

    @extend_schema(
        summary="One case, with its history",
        parameters=[s.DatumQuery],
        responses={200: s.CaseDetailOut, 404: ERROR},
    )
    def retrieve(self, request: Request, pk: str) -> Response:
        # One lookup inside the user's cases, with everything the detail shows.
        case = self._case(
            pk,
            self.get_queryset().prefetch_related(
                Prefetch(
                    "history",
                    CaseEvent.objects.select_related("actor", "actor_unit", "unit")
                    .prefetch_related("photos")
                    .order_by("at", "id"),
                ),
                Prefetch("assignments", Assignment.objects.select_related("unit", "rule")),
                Prefetch("photos", CasePhoto.objects.select_related("event")),
                Prefetch("parts", CasePart.objects.select_related("unit")),
                Prefetch("children", Case.objects.select_related("category", "unit")),
            ),
        )
        # What the user may do now: the one answer the services check with too.
        facts = facts_of(request.user, case)
        actions = allowed_actions(request.user, case, facts)
        return Response(self._render(case, detail=True, actions=actions, extension=facts.pending))

    @extend_schema(
        summary="Inspector report (idempotent on client_uuid)",
        request={"multipart/form-data": s.ReportIn, "application/json": s.ReportIn},
        responses={201: s.IntakeOut, 200: s.IntakeOut, **ERRORS},
    )
    @action(detail=False, methods=["post"])
    # One transaction with its audit row: nothing is kept of a request that answers an
    # error (the middleware records that one).
    @atomic_write
    def reports(self, request: Request) -> Response:
        data = _valid(s.ReportIn, _with_files(request))
        report = intake.Report(
            client_uuid=data["client_uuid"],
            category_id=data["category"],
            description=data["description"],
            location=_location(data),
            urgent=data["urgent"],
            component_code=data["component_code"],
            entity_id=data["entity"],
            photos=data["photos"],
        )
        # One read of the routing stamp for the request: the copy of the catalogue, the
        # stage limits and the calendar it stands for serves the intake and the answer.
        ref = reference.current()
        return self._intake(
            services.case_take_report(user=_user(request), report=report, ref=ref), ref
        )

    @extend_schema(
        summary="12345 hotline ticket",
        request=s.TicketIn,
        responses={201: s.IntakeOut, 200: s.IntakeOut, **ERRORS},
    )
    @action(detail=False, methods=["post"])
    @atomic_write
    def tickets(self, request: Request) -> Response:
        data = _valid(s.TicketIn, request.data)
        ticket = intake.Ticket(
            channel=data["channel"],
            category_id=data["category"],
            description=data["description"],
            address_text=data["address_text"],
            caller_name=data.get("caller_name", ""),
            caller_phone=data.get("caller_phone", ""),
            address_id=data["address_id"],
            location=_location(data) if data["lon"] is not None else None,
            urgent=data["urgent"],
            client_uuid=data["client_uuid"],
            ticket_type=data["ticket_type"],
            reply_term=data["reply_term"],
            # Stored on the case as the Open311 and exchange tickets store it (rules.py).
            attributes={"notify_on_close": ["true"]} if data["notify_on_close"] else {},
        )
        ref = reference.current()
        return self._intake(
            services.case_take_ticket(user=_user(request), ticket=ticket, ref=ref), ref
        )

    def _intake(self, result: intake.Intake, ref: reference.Reference) -> Response:
        # A new case is rendered from memory: intake and routing loaded all it shows.
        case = result.case if result.created else _cases().get(pk=result.case.pk)
        # Among the cases the user may see: one statement kept per post (building the
        # ORM query with the user's scope cost more than running it).
        candidates = likely_duplicates_seen_by(self.request.user, case)
        body = {
            "case": self._render(case, calendar_known_until=ref.known_until),
            "created": result.created,
            "likely_duplicates": self._render_duplicates(candidates),
        }
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return Response(body, status=code)

    def _render_duplicates(self, cases: Sequence[Case]) -> Any:
        return s.DuplicateOut(cases, many=True, context={"datum": self._datum}).data

    @extend_schema(
        summary="Likely duplicates of a case",
        description="Open cases of the same category within its radius and time window.",
        parameters=[s.DatumQuery],
        responses={200: s.DuplicateOut(many=True), 404: ERROR},
    )
    # A short list (at most incidents.duplicates.MAX_CANDIDATES), never paged: what the
    # hotline page and the intake answers show. No pagination, so the schema says so too.
    @action(detail=True, methods=["get"], pagination_class=None)
    def duplicates(self, request: Request, pk: str) -> Response:
        case = self._case(pk)
        return Response(self._render_duplicates(likely_duplicates(case, among=self.get_queryset())))

    @extend_schema(
        operation_id="cases_duplicates_near",
        summary="Likely duplicates of a case about to be filed",
        description="Open cases of the category within its radius and time window of a "
        "standard address or a point: what the hotline checks before filing a ticket.",
        parameters=[s.DuplicatesNearIn],
        responses={200: s.DuplicateOut(many=True), **ERRORS},
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="duplicates",
        url_name="duplicates-near",
        pagination_class=None,
    )
    def duplicates_near(self, request: Request) -> Response:
        data = _valid(s.DuplicatesNearIn, request.query_params)
        category = Category.objects.filter(pk=data["category"], active=True).first()
        point = self._point(data)
        if category is None or category.is_major or point is None:
            return Response([])
        # An unsaved case standing for the one about to be filed: likely_duplicates()
        # reads its category, point and time only.
        probe = Case(category=category, geom=point, created_at=clock.now())
        return Response(
            self._render_duplicates(likely_duplicates(probe, among=self.get_queryset()))
        )

    def _point(self, data: dict[str, Any]) -> Point | None:
        if data["address_id"] is not None:
            address = visible_records(
                self.request.user, Address.objects.filter(pk=data["address_id"])
            )
            found = address.only("geom").first()
            return found.geom if found else None
        # Checked by DuplicatesNearIn through the input boundary (layers.geoinput).
        return cast(Point, data["point"])

    @extend_schema(summary="A photo of a case", responses={(200, "image/*"): bytes, 404: ERROR})
    @action(detail=True, methods=["get"], url_path=r"photos/(?P<photo_id>\d+)")
    def photo(self, request: Request, pk: str, photo_id: str) -> FileResponse:
        case = self._case(pk)
        photo = CasePhoto.objects.filter(case=case, pk=int(photo_id)).first()
        if photo is None:
            raise CaseNotFound(
                _("案件 #%(id)s 没有编号为 %(photo)s 的照片。") % {"id": case.pk, "photo": photo_id}
            )
        return FileResponse(photo.image.open("rb"), content_type=photo.content_type)

    @transaction.atomic
    def _act(self, request: Request, pk: str, name: str) -> Response:
        serializer_class, call = ACTIONS[name]
        data = _valid(serializer_class, _with_files(request))
        call(request.user, self._case(pk).pk, data)
        return Response(self._render(_cases().get(pk=int(pk))))


def _make_action(name: str) -> Any:
    serializer_class, _call = ACTIONS[name]

    def act(self: CaseViewSet, request: Request, pk: str) -> Response:
        return self._act(request, pk, name)

    act.__name__ = f"action_{name}"
    act.__doc__ = f"Case action `{name}` (see docs/api.md for who may take it, and when)."
    multipart = name in {"handle", "verify", "verify_pass", "verify_fail", "co_handle"}
    body = {"multipart/form-data": serializer_class} if multipart else serializer_class
    routed = action(detail=True, methods=["post"], url_path=name, url_name=name)(act)
    return extend_schema(  # outside @action, as drf-spectacular reads it
        summary=f"Case action: {name}", request=body, responses={200: s.CaseOut, **ERRORS}
    )(routed)


for _name in ACTIONS:
    setattr(CaseViewSet, f"action_{_name}", _make_action(_name))


def _user(request: Request) -> User:
    # IsAuthenticated (the default permission) has let only signed-in users through.
    return cast(User, request.user)


def _with_files(request: Request) -> Any:
    """The request's fields, with every uploaded `photos` file (a form may carry many).
    Built anew rather than copied: QueryDict.copy() deep-copies its values, and a photo
    that Django spooled to disk (TemporaryUploadedFile, above 2.5 MB) cannot be copied."""
    if not request.FILES:
        return request.data
    data = QueryDict(mutable=True)
    for name, values in cast(QueryDict, request.POST).lists():
        data.setlist(name, values)
    data.setlist("photos", request.FILES.getlist("photos"))
    return data


def _valid(serializer_class: type[Serializer[Any]], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _location(data: dict[str, Any]) -> intake.Location:
    return intake.Location(
        lon=data["lon"], lat=data["lat"], datum=data["datum"], accuracy_m=data.get("accuracy_m")
    )


def _filtered(cases: QuerySet[Case], request: Request, query: dict[str, Any]) -> QuerySet[Case]:
    if query.get("state"):
        cases = cases.filter(state__in=query["state"])
    if (area := query.get("area")) is not None:  # an Area: CaseListQuery found it
        cases = apply_scope(cases, within(area))
    if query.get("category"):
        cases = cases.filter(category_id=query["category"])
    if query.get("overdue") is not None:
        cases = cases.filter(overdue=query["overdue"])
    if query.get("unit"):
        cases = cases.filter(unit_id=query["unit"])
    if query.get("mine"):
        cases = cases.filter(Q(reporter=request.user) | Q(verifier=request.user))
    if query.get("awaiting") == "me":
        cases = apply_scope(cases.filter(state__in=OPEN_STATES), awaiting_decision(request.user))
    if query.get("assigned") == "me":
        staff = staff_of(request.user)
        cases = cases.filter(unit_id=staff.unit_id) if staff else cases.none()
    if query.get("assigned") == "co":  # 协办: my unit's open parts
        staff = staff_of(request.user)
        parts = CasePart.objects.filter(unit_id=staff.unit_id if staff else 0)
        open_parts = parts.exclude(state=PartState.HANDLED).values("case_id")
        cases = cases.filter(pk__in=open_parts).exclude(state__in=FINAL_STATES)
    if query.get("q"):
        cases = cases.filter(search_match(query["q"]))
    if query.get("since"):
        cases = cases.filter(created_at__gte=_day_start(query["since"]))
    if query.get("until"):
        cases = cases.filter(created_at__lt=_day_start(query["until"] + dt.timedelta(days=1)))
    if query.get("source"):
        cases = cases.filter(source=query["source"])
    if query.get("reported_by") == "me":
        cases = cases.filter(reporter_id=request.user.pk)
    if query.get("ticket_type"):
        cases = cases.filter(ticket_type=query["ticket_type"])
    if query.get("caller_phone"):
        if not can_see_caller(request.user):  # a search would tell whose number it is
            raise PermissionDenied(_("只有 12345 热线可以按来电号码查找案件。"))
        cases = cases.filter(caller_phone=query["caller_phone"])
    if (queue := query.get("ticket")) is not None:
        return _ticket_queue(cases, queue)
    return cases.order_by("-created_at", "-id")


def _ticket_queue(cases: QuerySet[Case], queue: str) -> QuerySet[Case]:
    """The hotline's queues of 12345 tickets, the most pressing deadline first."""
    tickets = cases.exclude(ticket_type="").exclude(state__in=[State.CANCELLED, State.MERGED])
    if queue == "awaiting_reply":
        waiting = tickets.filter(replied_at__isnull=True).exclude(state=State.CLOSED)
        return waiting.order_by(F("reply_due_at").asc(nulls_last=True), "id")
    waiting = tickets.filter(replied_at__isnull=False, callback_at__isnull=True)
    return waiting.order_by(F("callback_due_at").asc(nulls_last=True), "id")


CASE_ID = re.compile(r"#?\s*([0-9]{1,18})")
# A 12345 ticket number as the caller was given it (incidents.services.ticket_number).
TICKET_NO = re.compile(r"[0-9]{8}-[0-9]{7,}")


def search_match(text: str) -> Q:
    """`q` of the case list: "123" or "#123" is that case, "20261204-0000123" the 12345
    ticket of that number; anything else is text in the
    description or the address, case-insensitive: a plain ILIKE (a sequential scan of
    the cases in scope); docs/api.md, "Finding and exporting cases", has the timings
    and why there is no trigram index yet."""
    text = text.strip()
    if found := CASE_ID.fullmatch(text):
        return Q(pk=int(found.group(1)))
    if TICKET_NO.fullmatch(text):
        return Q(ticket_no=text)
    return Q(description__icontains=text) | Q(address_text__icontains=text)


def _day_start(day: dt.date) -> dt.datetime:
    """The start of `day` in the city's time zone (settings.TIME_ZONE)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
