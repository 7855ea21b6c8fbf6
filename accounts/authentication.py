"""DRF authentication by API token: `Authorization: Token <secret>` (or `Bearer`).

The user is loaded with their post in one query (layers.auth), as a session's is, so
the access rules answer for a token exactly as for the same user signed in.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from accounts.tokens import token_user_id
from layers.auth import load_user_and_post

SCHEMES = (b"token", b"bearer")


class ApiTokenAuthentication(BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() not in SCHEMES:
            return None  # not ours: another class (the session) may authenticate
        if len(header) != 2:
            raise AuthenticationFailed(
                _("Authorization 头格式应为 “Token <令牌>”，令牌中不能有空格。")
            )
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed(_("API 令牌无效：令牌只含 ASCII 字符。")) from None
        user_id = token_user_id(secret)
        user = load_user_and_post(user_id) if user_id is not None else None
        if user is None:
            raise AuthenticationFailed(_("API 令牌无效、已过期或已吊销。"))
        if not user.is_active:
            raise AuthenticationFailed(_("API 令牌所属的用户已停用。"))
        return user, None

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
