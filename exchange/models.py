"""Hand-offs to other systems (docs/exchange.md): tickets of the provincial 12345 platform
and their cases, and outbound webhooks with their deliveries and attempts."""

from __future__ import annotations

import secrets

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ProvincialTicket(models.Model):
    """A work order of the provincial 12345 platform and the case it became. Its number
    is unique: importing the same ticket again finds this row instead of a new case."""

    ticket_no = models.CharField(_("省平台工单号"), max_length=64, unique=True)
    ticket_type = models.CharField(_("工单类型"), max_length=30, blank=True)
    case = models.OneToOneField(
        "incidents.Case", models.PROTECT, related_name="provincial_ticket", verbose_name=_("案件")
    )
    received_at = models.DateTimeField(_("省平台受理时间"), null=True, blank=True)
    imported_at = models.DateTimeField(_("导入时间"))
    exported_at = models.DateTimeField(_("最近回单时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("省12345工单")
        verbose_name_plural = _("省12345工单")
        ordering = ["-imported_at"]

    def __str__(self) -> str:
        return self.ticket_no


def new_secret() -> str:
    return secrets.token_hex(32)


class Webhook(models.Model):
    """A department's own system, told of the events of its unit's cases (the cases the
    unit has or had: the same rule as its live map, incidents.outbox.Audience)."""

    name = models.CharField(_("名称"), max_length=100)
    unit = models.ForeignKey(
        "layers.Unit", models.PROTECT, related_name="webhooks", verbose_name=_("单位")
    )
    url = models.URLField(_("接收地址"), max_length=500)
    secret = models.CharField(_("签名密钥"), max_length=128, default=new_secret)
    # Outbox kinds (case.dispatch, case.close ...); empty: every kind.
    kinds = ArrayField(
        models.CharField(max_length=30), default=list, blank=True, verbose_name=_("事件类型")
    )
    active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("外部推送")
        verbose_name_plural = _("外部推送")

    def __str__(self) -> str:
        return self.name


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENT = "sent", _("已送达")
    FAILED = "failed", _("发送失败")


class WebhookDelivery(models.Model):
    """One event to one webhook: its body, kept as sent (a replay sends the same bytes
    under a new delivery), and its state. Due-at column + partial index."""

    webhook = models.ForeignKey(
        Webhook, models.CASCADE, related_name="deliveries", verbose_name=_("外部推送")
    )
    seq = models.BigIntegerField(_("事件序号"))
    kind = models.CharField(_("事件类型"), max_length=30)
    body = models.TextField(_("内容"))
    state = models.CharField(
        _("状态"), max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"))
    delivered_at = models.DateTimeField(_("送达时间"), null=True, blank=True)
    replay_of = models.ForeignKey(
        "self", models.SET_NULL, null=True, blank=True, related_name="replays",
        verbose_name=_("重放自"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("推送记录")
        verbose_name_plural = _("推送记录")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "seq"], condition=Q(replay_of__isnull=True),
                name="webhook_delivery_once",
            )
        ]  # fmt: skip
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(state="pending"), name="webhook_due"
            )
        ]

    def __str__(self) -> str:
        return f"{self.webhook_id} {self.kind} #{self.seq}"


class WebhookAttempt(models.Model):
    """The delivery log: every attempt, with the receiver's answer or the error."""

    delivery = models.ForeignKey(
        WebhookDelivery, models.CASCADE, related_name="log", verbose_name=_("推送记录")
    )
    at = models.DateTimeField(_("时间"))
    status = models.PositiveSmallIntegerField(_("HTTP状态"), null=True, blank=True)
    error = models.TextField(_("错误"), blank=True)
    duration_ms = models.PositiveIntegerField(_("耗时(毫秒)"))

    class Meta:
        verbose_name = _("推送尝试")
        verbose_name_plural = _("推送尝试")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.status or self.error[:40]}"
