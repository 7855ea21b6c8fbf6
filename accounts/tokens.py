"""Issuing, revoking and checking API tokens (accounts.models.ApiToken)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiToken

if TYPE_CHECKING:
    from django.contrib.auth.models import User

TOKEN_PREFIX = "gmt_"  # noqa: S105 - the visible start of every token, not a secret
SHOWN_PREFIX = 12  # characters of the token kept in clear (TOKEN_PREFIX included)
# last_used_at is written at most this often per token, not on every request.
USE_RESOLUTION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown once to whoever issued it, never stored


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_issue(
    *,
    user: User,
    name: str,
    expires_at: dt.datetime | None = None,
    by: User | None = None,
) -> IssuedToken:
    """A new token acting as `user`. The secret is in the result only."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(30)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=secret[:SHOWN_PREFIX],
        key_hash=token_hash(secret),
        expires_at=expires_at,
        created_by=by,
    )
    return IssuedToken(token=token, secret=secret)


def token_revoke(*, token_ids: list[int]) -> int:
    """Revoke the tokens not revoked yet; returns how many were."""
    tokens = ApiToken.objects.filter(pk__in=token_ids, revoked_at__isnull=True)
    return tokens.update(revoked_at=timezone.now())


def token_user_id(secret: str) -> int | None:
    """The id of the user a usable token acts as (None: unknown, revoked or expired).
    One indexed query; the use is noted at most once a minute."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    now = timezone.now()
    found = (
        ApiToken.objects.usable(now)
        .filter(key_hash=token_hash(secret))
        .values_list("pk", "user_id", "last_used_at")
        .first()
    )
    if found is None:
        return None
    pk, user_id, last_used_at = found
    if last_used_at is None or last_used_at < now - USE_RESOLUTION:
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - USE_RESOLUTION)
        ApiToken.objects.filter(stale, pk=pk).update(last_used_at=now)
    return int(user_id)
