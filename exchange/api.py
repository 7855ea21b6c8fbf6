"""The exchange over the API (docs/exchange.md): the provincial 12345 platform's batch
import and 回单 export, for the hotline's seats and machine clients (API tokens of a
hotline user); webhook deliveries and their replay, for administrators."""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exchange import provincial, webhooks
from exchange.models import WebhookDelivery


class BatchIn(serializers.Serializer[Any]):
    tickets = serializers.ListField(
        child=serializers.DictField(), help_text="The platform's tickets (docs/exchange.md)."
    )


class TicketRef(serializers.Serializer[Any]):
    ticket_no = serializers.CharField()
    case_id = serializers.IntegerField()


class RejectedOut(serializers.Serializer[Any]):
    index = serializers.IntegerField()
    ticket_no = serializers.CharField()
    detail = serializers.CharField()
    field = serializers.CharField(allow_null=True)


class ImportOut(serializers.Serializer[Any]):
    format = serializers.CharField()
    created = TicketRef(many=True)
    existing = TicketRef(many=True)
    rejected = RejectedOut(many=True)


class ResultOut(serializers.Serializer[Any]):
    ticket_no = serializers.CharField()
    type = serializers.CharField()
    case_id = serializers.IntegerField()
    state = serializers.CharField()
    closed = serializers.BooleanField()
    unit = serializers.CharField(allow_null=True)
    reply = serializers.CharField()
    replied_at = serializers.DateTimeField(allow_null=True)
    handled_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    closed_on_time = serializers.BooleanField(allow_null=True)
    updated_at = serializers.DateTimeField()


class ResultsOut(serializers.Serializer[Any]):
    format = serializers.CharField()
    results = ResultOut(many=True)


class AttemptOut(serializers.Serializer[Any]):
    at = serializers.DateTimeField()
    status = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    duration_ms = serializers.IntegerField()


class DeliveryOut(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    webhook = serializers.IntegerField()
    seq = serializers.IntegerField()
    event = serializers.CharField()
    state = serializers.CharField()
    attempts = serializers.IntegerField()
    replay_of = serializers.IntegerField(allow_null=True)
    log = AttemptOut(many=True)


class DeliveriesOut(serializers.Serializer[Any]):
    deliveries = DeliveryOut(many=True)


def _hotline_only(request: Request) -> None:
    if not provincial.may_exchange(request.user):  # type: ignore[arg-type]
        raise PermissionDenied(_("只有12345坐席可以与省平台交换工单。"))


class TicketImportView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=BatchIn, responses=ImportOut, summary="12345: import tickets")
    def post(self, request: Request) -> Response:
        """A batch of the platform's tickets, {"tickets": [...]} (docs/exchange.md)."""
        _hotline_only(request)
        result = provincial.import_tickets(user=request.user, batch=request.data)  # type: ignore[arg-type]
        return Response({"format": provincial.FORMAT, **result})


class ResultExportView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[OpenApiParameter("since", str, description="ISO 8601 with an offset.")],
        responses=ResultsOut,
        summary="12345: export results",
    )
    def get(self, request: Request) -> Response:
        """回单 of the imported tickets whose cases changed after `since` (ISO 8601)."""
        _hotline_only(request)
        since = None
        if raw := request.query_params.get("since"):
            since = parse_datetime(raw)
            if since is None or since.tzinfo is None:
                raise ValidationError({"since": [_("请给出带时区的 ISO 8601 时间。")]})
        rows = provincial.results(since=since)
        return Response({"format": provincial.FORMAT, "results": rows})


def _delivery_out(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.pk, "webhook": delivery.webhook_id, "seq": delivery.seq,
        "event": delivery.kind, "state": delivery.state, "attempts": delivery.attempts,
        "replay_of": delivery.replay_of_id,
        "log": [
            {"at": a.at.isoformat(), "status": a.status, "error": a.error,
             "duration_ms": a.duration_ms}
            for a in delivery.log.all()
        ],
    }  # fmt: skip


class DeliveryListView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        parameters=[OpenApiParameter("webhook", int)],
        responses=DeliveriesOut,
        summary="Webhook deliveries and their log",
    )
    def get(self, request: Request) -> Response:
        rows = WebhookDelivery.objects.prefetch_related("log").order_by("-id")
        if hook := request.query_params.get("webhook"):
            if not hook.isdigit():
                raise ValidationError({"webhook": [_("请给出外部推送的编号。")]})
            rows = rows.filter(webhook_id=int(hook))
        return Response({"deliveries": [_delivery_out(d) for d in rows[:200]]})


class ReplayView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(request=None, responses={201: DeliveryOut}, summary="Replay a delivery")
    def post(self, request: Request, pk: int) -> Response:
        delivery = WebhookDelivery.objects.filter(pk=pk).first()
        if delivery is None:
            raise NotFound(_("没有这条推送记录。"))
        again = webhooks.replay(delivery)
        return Response(_delivery_out(again), status=201)
