"""GET /map/live/token/: a token that opens the live-map WebSocket (docs/websocket.md)."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from map_ui.live.models import issue_token


class LiveTokenView(APIView):
    """For the signed-in user: a short-lived token for ws(s)://<host>/ws/live/, offered
    as a subprotocol (map_ui.live.tokens), for pages that cannot send the session
    cookie. The token opens sockets only while the session that fetched it lives."""

    @extend_schema(
        operation_id="live_token",
        tags=["live"],
        responses=inline_serializer(
            "LiveToken",
            {"token": serializers.CharField(), "expires_in": serializers.IntegerField()},
        ),
    )
    def get(self, request: Request) -> Response:
        session_key = request.session.session_key
        if not session_key:  # signed in without a session (HTTP Basic, an API key)
            raise PermissionDenied(_("实时地图令牌只发给登录会话：请先登录网页。"))
        user_id = int(request.user.pk or 0)  # IsAuthenticated (the default) let it in
        token = issue_token(user_id=user_id, session_key=session_key)
        body = {"token": token, "expires_in": settings.LIVE_TOKEN_MAX_AGE}
        # A credential: no cache may keep it.
        return Response(body, headers={"Cache-Control": "no-store"})
