"""Client applications and their API keys: saving an application with its service user,
issuing, revoking and checking keys.

A key is 'o311_' and 40 random URL-safe characters. Only its SHA-256 is stored: a key
with this much entropy needs no slow hash, and the hash is looked up through a unique
index, so checking one costs one indexed query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from layers.models import Role, Staff
from open311.errors import Forbidden
from open311.models import ApiKey, ClientApplication

if TYPE_CHECKING:
    from django.contrib.auth.models import User

KEY_PREFIX = "o311_"
SHOWN_PREFIX = 12  # characters of the key kept in clear (KEY_PREFIX included)
# last_used_at is written at most this often per key, not on every request.
USE_RESOLUTION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str  # shown once to whoever issued it, never stored


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def client_save(application: ClientApplication) -> ClientApplication:
    """Save `application` and keep its service user in step: created with the
    application (a hotline post in its unit, no password), moved when the unit changes."""
    application.save()
    if application.user_id is None:
        user = get_user_model().objects.create_user(
            username=f"open311-{application.pk}", first_name=application.name[:150]
        )
        user.set_unusable_password()
        user.save(update_fields=["password"])
        application.user = user
        application.save(update_fields=["user"])
    Staff.objects.update_or_create(
        user=application.user, defaults={"role": Role.HOTLINE, "unit": application.unit}
    )
    return application


def key_issue(
    *, application: ClientApplication, label: str = "", by: User | None = None
) -> IssuedKey:
    """A new key for `application`. The secret is in the result only."""
    secret = KEY_PREFIX + secrets.token_urlsafe(30)
    key = ApiKey.objects.create(
        application=application,
        label=label,
        prefix=secret[:SHOWN_PREFIX],
        key_hash=key_hash(secret),
        created_by=by,
    )
    return IssuedKey(key=key, secret=secret)


def key_revoke(*, key_ids: list[int]) -> int:
    """Revoke the keys not revoked yet; returns how many were."""
    return ApiKey.objects.active().filter(pk__in=key_ids).update(revoked_at=timezone.now())


def client_for_key(secret: str) -> ClientApplication:
    """The application a request's api_key belongs to, or Forbidden (403)."""
    if not secret:
        raise Forbidden(_("缺少 api_key：提交上报须提供本市签发的 API 密钥。"))
    key = (
        ApiKey.objects.filter(key_hash=key_hash(secret))
        .select_related("application__user", "application__scope", "application__unit")
        .defer("application__scope__geom")
        .first()
    )
    if key is None:
        raise Forbidden(_("api_key 无效：请核对密钥，或向本市管理员申请。"))
    if key.revoked_at is not None:
        revoked = timezone.localtime(key.revoked_at).strftime("%Y-%m-%d")
        raise Forbidden(
            _("api_key 已于 %(date)s 吊销：请向本市管理员申请新密钥。") % {"date": revoked}
        )
    _note_use(key)
    return key.application


def _note_use(key: ApiKey) -> None:
    now = timezone.now()
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - USE_RESOLUTION)
    ApiKey.objects.filter(stale, pk=key.pk).update(last_used_at=now)
