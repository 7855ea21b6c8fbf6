"""What people are told: an inbox item per person and event, and the messages sent on to
them by e-mail or SMS, each with its delivery state (docs/notifications.md)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    ASSIGNED = "assigned", _("新派遣案件")
    RETURNED = "returned", _("案件被退回")
    REWORK = "rework", _("核查不通过，需返工")
    EXTENSION_REQUEST = "extension_request", _("延期/缓办申请待审批")
    EXTENSION_DECISION = "extension_decision", _("延期/缓办申请已审批")
    WARNING = "warning", _("案件即将超期")
    OVERDUE = "overdue", _("案件已超期")
    SUPERVISE = "supervise", _("案件被督办")
    VERIFY = "verify", _("核查任务")
    CLOSED = "closed", _("您反映的问题已结案")


class Notification(models.Model):
    """One inbox item: `user` is told about `kind` on `case` (from the live event `seq`)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="notifications",
        verbose_name=_("接收人"),
    )  # fmt: skip
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    case = models.ForeignKey(
        "incidents.Case", models.CASCADE, related_name="+", verbose_name=_("案件")
    )
    seq = models.BigIntegerField(_("事件序号"))
    at = models.DateTimeField(_("时间"))
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("站内消息")
        verbose_name_plural = _("站内消息")
        ordering = ["-seq", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "seq", "kind"], name="notification_once")
        ]
        indexes = [
            models.Index(
                fields=["user", "-seq"],
                condition=Q(read_at__isnull=True),
                name="notification_unread",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} #{self.case_id} {self.kind}"


class Transport(models.TextChoices):
    EMAIL = "email", _("电子邮件")
    SMS = "sms", _("短信")


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")  # retries exhausted


class Message(models.Model):
    """A message to send by e-mail or SMS. Due-at column + partial index: the delivery
    worker claims due rows (FOR UPDATE SKIP LOCKED), so several copies may run."""

    transport = models.CharField(_("发送方式"), max_length=10, choices=Transport.choices)
    to = models.CharField(_("收件人"), max_length=254)
    subject = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("正文"))
    notification = models.ForeignKey(
        Notification, models.SET_NULL, null=True, blank=True, related_name="messages",
        verbose_name=_("站内消息"),
    )  # fmt: skip
    case = models.ForeignKey(
        "incidents.Case", models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("案件"),
    )  # fmt: skip
    state = models.CharField(
        _("状态"), max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), null=True, blank=True)
    last_error = models.TextField(_("最近错误"), blank=True)
    created_at = models.DateTimeField(_("创建时间"))
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("外发消息")
        verbose_name_plural = _("外发消息")
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"], condition=Q(state="pending"), name="message_due"
            )
        ]

    def __str__(self) -> str:
        return f"{self.transport} → {self.to}: {self.subject}"


class Preference(models.Model):
    """How a user wants to be told beyond the inbox. Without a row: e-mail to the user's
    address if they have one, no SMS, nothing when their own report is closed."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="notify_preference",
        verbose_name=_("用户"),
    )  # fmt: skip
    email = models.BooleanField(_("邮件通知"), default=True)
    sms = models.BooleanField(_("短信通知"), default=False)
    phone = models.CharField(_("手机号码"), max_length=20, blank=True)
    closed = models.BooleanField(_("我上报的案件结案时通知我"), default=False)

    class Meta:
        verbose_name = _("通知设置")
        verbose_name_plural = _("通知设置")

    def __str__(self) -> str:
        return str(self.user_id)


class OutboxCursor(models.Model):
    """How far a reader of the case events (incidents.models.Outbox) has got: the last
    sequence number it handled. Its row is locked while a pass reads, so that several
    copies of a worker never hand out an event twice."""

    name = models.CharField(max_length=40, primary_key=True)
    last_seq = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("事件读取进度")
        verbose_name_plural = _("事件读取进度")

    def __str__(self) -> str:
        return f"{self.name}: {self.last_seq}"


def backoff(attempts: int) -> dt.timedelta:
    """Wait before attempt `attempts + 1`: doubling from NOTIFY_RETRY_BASE seconds, at most
    NOTIFY_RETRY_MAX."""
    seconds = settings.NOTIFY_RETRY_BASE * 2 ** max(0, attempts - 1)
    return dt.timedelta(seconds=min(seconds, settings.NOTIFY_RETRY_MAX))
