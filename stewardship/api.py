"""The stewardship API under /api/stewardship/ (docs/stewardship.md). Views parse, call one
service or selector, render; errors come in the API's one JSON shape."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.gis.geos import Point
from django.core.exceptions import FieldDoesNotExist
from django.http import FileResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.photos import check_photos
from layers.access import is_superuser, staff_of
from layers.geoinput import BadCoordinates, storage_point
from layers.models import Area
from stewardship import history, quality, services
from stewardship import layers as L
from stewardship.errors import InvalidInput, NotFound, NotPermitted
from stewardship.models import Proposal, ProposalStatus

OBJECT: dict[int, Any] = {200: OpenApiTypes.OBJECT}


def _point(data: Any) -> Point | None:
    lon, lat = data.get("lon"), data.get("lat")
    if lon in (None, "") and lat in (None, ""):
        return None
    try:
        return storage_point(lon, lat, data.get("datum") or "wgs84")
    except BadCoordinates as error:
        raise InvalidInput(error.message, field=error.field) from None


def _values(data: Any) -> dict[str, Any]:
    raw = data.get("values") or {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise InvalidInput(_("values 应为 JSON 对象。"), field="values") from None
    if not isinstance(raw, dict):
        raise InvalidInput(_("values 应为 JSON 对象。"), field="values")
    return raw


def _data(request: Request) -> Any:
    data = request.data
    if not hasattr(data, "get"):
        raise InvalidInput(_("请求体应为 JSON 对象或表单。"), field=None)
    return data


def _photo(request: Request) -> Any:
    # "photos" and "client_uuid" as the phone's outbox (map_ui queue.js) names them.
    files = request.FILES if hasattr(request, "FILES") else None
    uploads = [*files.getlist("photo"), *files.getlist("photos")] if files else []
    if len(uploads) > 1:
        raise InvalidInput(_("只能上传一张照片。"), field="photo")
    checked = check_photos(uploads)
    return checked[0] if checked else None


def _label(model: Any, field: str) -> str:
    try:
        return str(model._meta.get_field(field).verbose_name)
    except FieldDoesNotExist:  # values hold only layer fields; be safe with old rows
        return field


def proposal_json(user: Any, proposal: Proposal) -> dict[str, Any]:
    layer = L.layer_of_type(proposal.layer_id) or ""
    model = L.MODELS.get(layer)
    # A list carries both verdicts as columns (with_verdicts); one proposal asks.
    unmasked = getattr(proposal, "unmasked", None)
    if unmasked is None:
        unmasked = history.proposal_unmasked(user, proposal)
    reviewable = getattr(proposal, "reviewable", None)
    if reviewable is None:
        reviewable = services.may_review(user, proposal)
    values = {
        k: (L.shown(model, k, v, unmasked=unmasked) if model else v)
        for k, v in proposal.values.items()
    }
    return {
        "id": proposal.pk,
        "layer": layer,
        "layer_display": str(model._meta.verbose_name) if model else "",
        "object_id": proposal.object_id,
        "values": values,
        # Each value's field as the interface names it (the model's verbose name).
        "labels": {k: _label(model, k) for k in values} if model else {},
        "lon": proposal.geom.x if proposal.geom else None,
        "lat": proposal.geom.y if proposal.geom else None,
        "note": proposal.note,
        # Served through the API (visible_proposals decides), as a case's photos are.
        "photo": reverse("stewardship-proposal-photo", args=[proposal.pk])
        if proposal.photo
        else None,
        "proposer": proposal.proposer.get_username(),
        "created_at": proposal.created_at.isoformat(),
        "cell": proposal.cell.code if proposal.cell_id and proposal.cell else None,
        "status": proposal.status,
        "status_display": str(proposal.get_status_display()),
        "reviewer": proposal.reviewer.get_username() if proposal.reviewer else None,
        "reviewed_at": proposal.reviewed_at.isoformat() if proposal.reviewed_at else None,
        "reason": proposal.reason,
        "result_id": proposal.result_id,
        "may_review": proposal.status == ProposalStatus.PENDING and bool(reviewable),
    }


class ProposalsView(APIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        summary="Proposals: the user's own, or (queue=1) those awaiting their review",
        responses=OBJECT,
    )
    def get(self, request: Request) -> Response:
        if request.query_params.get("queue") == "1":
            queue = services.review_queue(request.user)
            rows = Proposal.objects.filter(status=ProposalStatus.PENDING)
            rows = rows if queue is True else rows.filter(queue) if queue else rows.none()
        else:
            rows = Proposal.objects.filter(proposer_id=request.user.pk)
        rows = services.with_verdicts(request.user, rows)
        rows = rows.select_related("proposer", "reviewer", "cell").order_by("-created_at")[:200]
        return Response({"results": [proposal_json(request.user, p) for p in rows]})

    @extend_schema(
        summary="Propose a new record or a change (one photo, offline client_id)",
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        data = _data(request)
        layer = str(data.get("layer") or "")
        if layer not in L.MODELS:
            raise InvalidInput(_("没有这个图层：%(layer)s。") % {"layer": layer}, field="layer")
        object_id = data.get("object_id") or None
        record = None
        if object_id is not None:
            try:
                record = services.visible_record(request.user, layer, int(object_id))
            except (TypeError, ValueError):
                raise InvalidInput(_("object_id 应为整数。"), field="object_id") from None
        proposal = services.propose(
            user=request.user,
            layer=layer,
            record=record,
            values=_values(data),
            geom=_point(data),
            note=str(data.get("note") or ""),
            photo=_photo(request),
            client_id=str(data.get("client_id") or data.get("client_uuid") or ""),
        )
        return Response(proposal_json(request.user, proposal), status=201)


def _proposal(request: Request, pk: int) -> Proposal:
    proposal = services.visible_proposals(request.user).filter(pk=pk).first()
    if proposal is None:
        raise NotFound(_("没有这条采集建议，或您无权查看。"))
    return proposal


class ProposalView(APIView):
    @extend_schema(
        summary="One proposal and its outcome",
        operation_id="api_stewardship_proposal_retrieve",
        responses=OBJECT,
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(proposal_json(request.user, _proposal(request, pk)))


class PhotoView(APIView):
    @extend_schema(
        summary="The photo of a proposal",
        responses={(200, "image/*"): bytes},
    )
    def get(self, request: Request, pk: int) -> FileResponse:
        proposal = _proposal(request, pk)
        if not proposal.photo:
            raise NotFound(_("这条采集建议没有照片。"))
        content_type = {".png": "image/png", ".webp": "image/webp"}.get(
            proposal.photo_extension, "image/jpeg"
        )
        return FileResponse(proposal.photo.open("rb"), content_type=content_type)


class AcceptView(APIView):
    @extend_schema(
        summary="Accept a proposal (applied through the validators)", request=None, responses=OBJECT
    )
    def post(self, request: Request, pk: int) -> Response:
        proposal = services.accept(user=request.user, pk=pk)
        return Response(proposal_json(request.user, proposal))


class RejectView(APIView):
    @extend_schema(
        summary="Reject a proposal with a reason", request=OpenApiTypes.OBJECT, responses=OBJECT
    )
    def post(self, request: Request, pk: int) -> Response:
        reason = str(_data(request).get("reason") or "")
        proposal = services.reject(user=request.user, pk=pk, reason=reason)
        return Response(proposal_json(request.user, proposal))


class RecordView(APIView):
    @extend_schema(
        summary="A record's sources and field history (masked as the record)", responses=OBJECT
    )
    def get(self, request: Request, layer: str, pk: int) -> Response:
        record = services.visible_record(request.user, layer, pk)
        entries = history.record_history(request.user, record)
        return Response({"layer": layer, "id": record.pk, "history": entries})

    @extend_schema(
        summary="Change a record: applied for its layer's owner, proposed for others",
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT, 202: OpenApiTypes.OBJECT},
    )
    def patch(self, request: Request, layer: str, pk: int) -> Response:
        outcome = services.change_record(
            user=request.user,
            layer=layer,
            pk=pk,
            values=_values(_data(request)),
            geom=_point(_data(request)),
            note=str(_data(request).get("note") or ""),
        )
        if outcome.proposal is not None:
            return Response(
                {"applied": False, "proposal": proposal_json(request.user, outcome.proposal)},
                status=202,
            )
        return Response(
            {"applied": True, "source_id": outcome.source.pk if outcome.source else None}
        )


class VerifyView(APIView):
    @extend_schema(
        summary="Confirm on site that a record is still right",
        request=None,
        responses={201: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, layer: str, pk: int) -> Response:
        verification = services.verify(user=request.user, layer=layer, pk=pk)
        return Response({"verified_at": verification.at.isoformat()}, status=201)


class QualityView(APIView):
    @extend_schema(summary="Data-quality report of an area (default: the user's)", responses=OBJECT)
    def get(self, request: Request) -> Response:
        area = _report_area(request.user, request.query_params.get("area"))
        days = _days(request.query_params.get("days"))
        result = quality.report(area, days=days)
        return Response(report_json(result))


def _days(text: str | None) -> int:
    if not text:
        return quality.DEFAULT_DAYS
    if not text.isdigit() or not 1 <= int(text) <= 36500:
        raise InvalidInput(_("days 应为 1 到 36500 之间的整数。"), field="days")
    return int(text)


def _report_area(user: Any, code: str | None) -> Area:
    """The area of the report: the user's unit's area, or (code) one inside it."""
    staff = staff_of(user)
    if not is_superuser(user) and (staff is None or staff.role != "data_admin"):
        raise NotPermitted(_("数据质量报告只对基础数据管理员开放。"))
    own = (
        staff.unit.area if staff is not None else Area.objects.current().filter(tier="city").first()
    )
    if not code:
        if own is None:
            raise NotFound(_("没有这个区域。"), field="area")
        return own
    area = Area.objects.current().filter(code=code).defer("geom").first()
    if area is None or (own is not None and not _inside(area, own)):
        raise NotFound(_("没有这个区域，或不在您的辖区内。"), field="area")
    return area


def _inside(area: Area, own: Area) -> bool:
    current: Area | None = area
    while current is not None:
        if current.pk == own.pk:
            return True
        current = current.parent
    return False


def report_json(result: quality.Report) -> dict[str, Any]:
    def row(r: quality.Row) -> dict[str, Any]:
        return {
            "area": r.area.code if r.area else None,
            "name": r.area.display_name if r.area else None,
            "layers": r.layers,
            "cells_without_inspector": r.cells_without_inspector,
            "components_without_maintainer": r.components_without_maintainer,
        }

    return {
        "area": result.area.code,
        "days": result.days,
        "totals": row(result.totals),
        "rows": [row(r) for r in result.rows],
    }
