"""The exchange over the API (docs/exchange.md): the provincial 12345 platform's batch
import and 回单 export, for the hotline's seats and machine clients (API tokens of a
hotline user); webhook deliveries and their replay, for administrators."""

from __future__ import annotations

from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exchange import provincial, webhooks
from exchange.models import WebhookDelivery
from layers.access import is_superuser, staff_of
from layers.models import Role


def _hotline_only(request: Request) -> None:
    staff = staff_of(request.user)
    if not is_superuser(request.user) and (staff is None or staff.role != Role.HOTLINE):
        raise PermissionDenied(_("只有12345坐席可以与省平台交换工单。"))


class TicketImportView(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request: Request) -> Response:
        """A batch of the platform's tickets, {"tickets": [...]} (docs/exchange.md)."""
        _hotline_only(request)
        result = provincial.import_tickets(user=request.user, batch=request.data)  # type: ignore[arg-type]
        return Response({"format": provincial.FORMAT, **result})


class ResultExportView(APIView):
    permission_classes = [IsAuthenticated]

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

    def get(self, request: Request) -> Response:
        rows = WebhookDelivery.objects.prefetch_related("log").order_by("-id")
        if hook := request.query_params.get("webhook"):
            if not hook.isdigit():
                raise ValidationError({"webhook": [_("请给出外部推送的编号。")]})
            rows = rows.filter(webhook_id=int(hook))
        return Response({"deliveries": [_delivery_out(d) for d in rows[:200]]})


class ReplayView(APIView):
    permission_classes = [IsAdminUser]

    def post(self, request: Request, pk: int) -> Response:
        delivery = WebhookDelivery.objects.filter(pk=pk).first()
        if delivery is None:
            raise NotFound(_("没有这条推送记录。"))
        again = webhooks.replay(delivery)
        return Response(_delivery_out(again), status=201)
