"""GET /map/live/token/: a token that opens the live-map WebSocket (docs/websocket.md)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from map_ui.live.tokens import make_token


class LiveTokenView(APIView):
    """For the signed-in user (session or basic auth): a short-lived token for
    ws(s)://<host>/ws/live/, offered as a subprotocol (map_ui.live.tokens), for pages
    that cannot send the session cookie."""

    @extend_schema(
        operation_id="live_token",
        tags=["live"],
        responses=inline_serializer(
            "LiveToken",
            {"token": serializers.CharField(), "expires_in": serializers.IntegerField()},
        ),
    )
    def get(self, request: Request) -> Response:
        user_id = int(request.user.pk or 0)  # IsAuthenticated (the default) let it in
        body = {"token": make_token(user_id), "expires_in": settings.LIVE_TOKEN_MAX_AGE}
        # A credential: no cache may keep it.
        return Response(body, headers={"Cache-Control": "no-store"})
