"""API tokens: how machine clients (scripts, other systems) call the API.

A token is 'gmt_' and 40 random URL-safe characters, shown once when it is issued
(admin, or `manage.py issue_api_token`). Only its SHA-256 is kept: a secret with 240
bits of entropy needs no slow hash, and checking it is one lookup through a unique index
(HTTP Basic cost a full password hash, ~0.4 s, on every request). A token acts as its
user, with that user's post and scope; it is revoked by a date, never deleted, so its
history stays, and it may carry an expiry.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self, now: dt.datetime | None = None) -> ApiTokenQuerySet:
        """Neither revoked nor expired at `now`."""
        now = now or timezone.now()
        return self.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now), revoked_at__isnull=True
        )


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="api_tokens",
        verbose_name=_("用户"),
    )  # fmt: skip
    name = models.CharField(_("名称"), max_length=100, help_text=_("哪个系统或脚本使用此令牌。"))
    # The token's first characters, to tell tokens apart in lists and logs.
    prefix = models.CharField(_("令牌前缀"), max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("签发时间"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, editable=False,
        related_name="+", verbose_name=_("签发人"),
    )  # fmt: skip
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(
        _("到期时间"), null=True, blank=True, help_text=_("留空：不过期，直到吊销。")
    )
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API令牌")
        verbose_name_plural = _("API令牌")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"
