"""The inbox over the API: the user's latest items and unread count, marking read."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gridmgmt import clock
from notifications.collect import unread_count
from notifications.models import Kind, Notification, Preference

INBOX_SIZE = 50


class ItemSerializer(serializers.ModelSerializer[Notification]):
    title = serializers.SerializerMethodField()
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "case", "proposal", "seq", "at", "read"]

    def get_title(self, item: Notification) -> str:
        return f"{Kind(item.kind).label} #{item.case_id or item.proposal_id}"

    def get_read(self, item: Notification) -> bool:
        return item.read_at is not None


class InboxSerializer(serializers.Serializer[dict[str, Any]]):
    unread = serializers.IntegerField()
    items = ItemSerializer(many=True)


def _mine(request: Request) -> QuerySet[Notification]:
    return Notification.objects.filter(user_id=_user_id(request))


def _user_id(request: Request) -> int:
    return int(request.user.pk or 0)  # IsAuthenticated: a signed-in user has one


class InboxView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses=InboxSerializer, summary="Inbox: the latest items and the unread count"
    )
    def get(self, request: Request) -> Response:
        items = _mine(request).order_by("-at", "-id")[:INBOX_SIZE]
        body = {"unread": unread_count(_user_id(request)), "items": items}
        return Response(InboxSerializer(body).data)


class ReadView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses=InboxSerializer, summary="Inbox: mark items read")
    def post(self, request: Request, pk: int | None = None) -> Response:
        """One item (its id in the path) or, without one, all of the user's items."""
        items = _mine(request).filter(read_at__isnull=True)
        if pk is not None:
            if not _mine(request).filter(pk=pk).exists():
                raise NotFound(_("没有这条消息。"))
            items = items.filter(pk=pk)
        items.update(read_at=clock.now())
        return InboxView().get(request)


class ReadAllView(ReadView):
    @extend_schema(
        request=None, responses=InboxSerializer, summary="Inbox: mark every item read",
        operation_id="api_notifications_read_all",
    )  # fmt: skip
    def post(self, request: Request, pk: int | None = None) -> Response:
        return super().post(request)


class PreferenceSerializer(serializers.ModelSerializer[Preference]):
    class Meta:
        model = Preference
        fields = ["email", "sms", "phone", "closed"]


class PreferenceView(APIView):
    """The user's own choices: e-mail, SMS (with a phone number), told when their own
    reports are closed."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=PreferenceSerializer, summary="Notification settings")
    def get(self, request: Request) -> Response:
        found = Preference.objects.filter(user_id=_user_id(request)).first()
        return Response(PreferenceSerializer(found or Preference()).data)

    @extend_schema(
        request=PreferenceSerializer, responses=PreferenceSerializer, summary="Change them"
    )
    def put(self, request: Request) -> Response:
        mine, _created = Preference.objects.get_or_create(user_id=_user_id(request))
        given = PreferenceSerializer(mine, data=request.data, partial=True)
        given.is_valid(raise_exception=True)
        if given.validated_data.get("sms", mine.sms) and not given.validated_data.get(
            "phone", mine.phone
        ):
            raise ValidationError({"phone": [_("接收短信需要填写手机号码。")]})
        given.save()
        return Response(given.data)
