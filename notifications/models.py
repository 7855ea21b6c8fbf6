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
    # 一级采集: the proposer is told how their proposal of base data was decided.
    PROPOSAL_ACCEPTED = "proposal_accepted", _("采集建议已采纳")
    PROPOSAL_REJECTED = "proposal_rejected", _("采集建议被驳回")


class Notification(models.Model):
    """One inbox item: `user` is told about `kind` on `case` (from the live event `seq`),
    or about the decision on their `proposal` of base data (no case, no event)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="notifications",
        verbose_name=_("接收人"),
    )  # fmt: skip
    kind = models.CharField(_("类型"), max_length=20, choices=Kind.choices)
    case = models.ForeignKey(
        "incidents.Case", models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("案件"),
    )  # fmt: skip
    proposal = models.ForeignKey(
        "stewardship.Proposal", models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("采集建议"),
    )  # fmt: skip
    # A proposal's decision is no case event: no sequence number (NULLs never clash in
    # the unique constraint; a proposal is decided once, so it is told once).
    seq = models.BigIntegerField(_("事件序号"), null=True, blank=True)
    at = models.DateTimeField(_("时间"))
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("站内消息")
        verbose_name_plural = _("站内消息")
        ordering = ["-at", "-id"]
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
        about = f"#{self.case_id}" if self.case_id else f"P{self.proposal_id}"
        return f"{self.user_id} {about} {self.kind}"


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


class Channel(models.TextChoices):
    """How one kind of message reaches a user beyond the inbox (it is always in the inbox)."""

    INBOX = "inbox", _("仅站内消息")
    EMAIL = "email", _("站内消息和邮件")
    SMS = "sms", _("站内消息和短信")


class Preference(models.Model):
    """How a user wants to be told beyond the inbox, per kind of message (`channels`, the
    page /map/notifications/). A kind without a choice follows the two switches `email`
    and `sms`. Without a row: e-mail to the user's address if they have one, no SMS,
    nothing when their own report is closed; messages in the site's language."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="notify_preference",
        verbose_name=_("用户"),
    )  # fmt: skip
    email = models.BooleanField(_("邮件通知"), default=True)
    sms = models.BooleanField(_("短信通知"), default=False)
    phone = models.CharField(_("手机号码"), max_length=20, blank=True)
    closed = models.BooleanField(_("我上报的案件结案时通知我"), default=False)
    # Kind → Channel value; a kind not named follows `email` and `sms`.
    channels = models.JSONField(_("各类消息的通知方式"), default=dict, blank=True)
    # E-mail and SMS leave the site: they are written in this language (empty: the site's).
    language = models.CharField(
        _("消息语言"), max_length=10, choices=settings.LANGUAGES, blank=True
    )

    class Meta:
        verbose_name = _("通知设置")
        verbose_name_plural = _("通知设置")

    def __str__(self) -> str:
        return str(self.user_id)

    def transports(self, kind: str, email: str) -> list[Transport]:
        """How a message of `kind` goes out, beyond the inbox, to a user whose address is
        `email`: by their choice for the kind, else by the two switches."""
        chosen = (self.channels or {}).get(kind)
        if chosen in Channel.values:
            wanted = {Channel.EMAIL: [Transport.EMAIL], Channel.SMS: [Transport.SMS]}
            found = wanted.get(Channel(chosen), [])
        else:
            found = [Transport.EMAIL] * self.email + [Transport.SMS] * self.sms
        reachable = {Transport.EMAIL: bool(email), Transport.SMS: bool(self.phone)}
        return [t for t in found if reachable[t]]

    def message_language(self) -> str:
        return self.language or settings.LANGUAGE_CODE


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
