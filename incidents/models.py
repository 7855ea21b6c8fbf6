"""Cases (案件): what inspectors and 12345 callers report, where, and what became of it.

A case keeps the cell, community, street and district it was placed in at intake, even
after the grid is redrawn. Its workflow (filing, dispatch, deadlines, verification) is
driven by dispatch/; every state change is a CaseEvent row (append-only, enforced by a
database trigger) and an Outbox row that live clients read in sequence order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class Source(models.TextChoices):
    INSPECTOR = "inspector", _("网格员上报")
    HOTLINE = "hotline", _("12345热线")
    OPEN311 = "open311", _("Open311应用")


class Channel(models.TextChoices):
    APP = "app", _("网格员终端")
    PHONE = "phone", _("电话")
    SMS = "sms", _("短信")
    WECHAT = "wechat", _("微信")
    WEIBO = "weibo", _("微博")
    WEB = "web", _("网站")


class State(models.TextChoices):
    REPORTED = "reported", _("已上报")
    FILED = "filed", _("已立案")
    CANCELLED = "cancelled", _("已注销")
    MERGED = "merged", _("已合并")
    DISPATCHED = "dispatched", _("已派遣")
    SIGNED = "signed", _("处置中")
    RETURNED = "returned", _("已退回")
    SUSPENDED = "suspended", _("缓办中")
    HANDLED = "handled", _("待核查")
    REWORK = "rework", _("返工")
    VERIFIED = "verified", _("核查通过")
    CLOSED = "closed", _("已结案")
    # Split into child cases for different departments (拆分); closed with the last child.
    SPLIT = "split", _("已拆分")


class TicketType(models.TextChoices):
    """What a 12345 caller wants (工单类型)."""

    CONSULT = "consult", _("咨询")
    HELP = "help", _("求助")
    COMPLAINT = "complaint", _("投诉")
    TIPOFF = "tipoff", _("举报")
    SUGGESTION = "suggestion", _("建议")
    PRAISE = "praise", _("表扬")
    OTHER = "other", _("其他")


class ReplyTerm(models.TextChoices):
    """How soon a 12345 ticket must be answered (答复时限类别); the limits themselves are
    data (dispatch.models.HotlineTerm)."""

    URGENT = "urgent", _("紧急")
    UTILITIES = "utilities", _("水电气")
    GENERAL = "general", _("一般")
    COMPLEX = "complex", _("复杂")


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASIC = "basic", _("基本满意")
    DISSATISFIED = "dissatisfied", _("不满意")


# States in which nothing more happens to a case.
FINAL_STATES = frozenset({State.CANCELLED, State.MERGED, State.CLOSED})
# States in which the disposal clock runs (it starts at dispatch, stops at feedback).
CLOCK_STATES = frozenset({State.DISPATCHED, State.SIGNED, State.RETURNED, State.REWORK})


def _area_fk(label: StrOrPromise) -> models.ForeignKey:
    # Areas are never deleted (they get a valid_to date), so PROTECT never fires in use;
    # it stops an accidental delete from orphaning the record of where a case was filed.
    return models.ForeignKey("layers.Area", models.PROTECT, related_name="+", verbose_name=label)


class Case(models.Model):
    source = models.CharField(_("来源"), max_length=10, choices=Source.choices)
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    # The reporting client's own id: resending a report returns the same case.
    client_uuid = models.UUIDField(_("客户端编号"), null=True, blank=True, unique=True)
    body_hash = models.CharField(_("内容摘要"), max_length=64, blank=True)

    category = models.ForeignKey(
        "layers.Category", models.PROTECT, related_name="cases", verbose_name=_("分类")
    )
    urgent = models.BooleanField(_("紧急"), default=False)
    description = models.TextField(_("问题描述"), max_length=4000)
    attributes = models.JSONField(_("附加属性"), default=dict, blank=True)

    geom = models.PointField(_("位置"), srid=settings.GRID_SRID)
    datum = models.CharField(_("上报坐标系"), max_length=10)
    accuracy_m = models.FloatField(_("定位精度(米)"), null=True, blank=True)
    address = models.ForeignKey(
        "layers.Address", models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("标准地址"),
    )  # fmt: skip
    address_text = models.CharField(_("地址描述"), max_length=200, blank=True)
    # A link to a photo or video of the problem given by an Open311 client (GeoReport
    # v2 media_url); photos uploaded by inspectors and units are CasePhoto rows.
    media_url = models.URLField(_("媒体链接"), max_length=500, blank=True)
    component_code = models.CharField(_("部件编码"), max_length=16, blank=True)
    entity = models.ForeignKey(
        "layers.LegalEntity", models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("相关单位"),
    )  # fmt: skip

    cell = _area_fk(_("网格"))
    community = _area_fk(_("社区"))
    street = _area_fk(_("街道"))
    district = _area_fk(_("区"))

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
        related_name="reported_cases", verbose_name=_("上报人"),
    )  # fmt: skip
    # Personal data of 12345 callers: masked everywhere except for incidents.access roles.
    caller_name = models.CharField(_("来电人"), max_length=50, blank=True)
    caller_phone = models.CharField(_("来电号码"), max_length=20, blank=True)

    state = models.CharField(_("状态"), max_length=10, choices=State.choices)
    merged_into = models.ForeignKey(
        "self", models.PROTECT, null=True, blank=True, related_name="merged_cases",
        verbose_name=_("合并至"),
    )  # fmt: skip
    # 拆分: the case this one was split from (dispatch.services.case_split).
    parent = models.ForeignKey(
        "self", models.PROTECT, null=True, blank=True, related_name="children",
        verbose_name=_("拆分自"),
    )  # fmt: skip
    unit = models.ForeignKey(
        "layers.Unit", models.PROTECT, null=True, blank=True, related_name="cases",
        verbose_name=_("责任单位"),
    )  # fmt: skip
    # The tier above the unit that supervises the case once it is overdue (督办).
    supervising_unit = models.ForeignKey(
        "layers.Unit", models.PROTECT, null=True, blank=True, related_name="supervised_cases",
        verbose_name=_("督办单位"),
    )  # fmt: skip
    verifier = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True,
        related_name="verification_cases", verbose_name=_("核查人"),
    )  # fmt: skip
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("反馈人"),
    )  # fmt: skip

    created_at = models.DateTimeField(_("上报时间"), db_index=True)
    updated_at = models.DateTimeField(_("更新时间"))
    filed_at = models.DateTimeField(_("立案时间"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("派遣时间"), null=True, blank=True)
    handled_at = models.DateTimeField(_("反馈时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)

    # Deadlines (dispatch.deadlines): due_at is the disposal deadline; sla_check_at is
    # the next moment the SLA worker must look at the case (warning, overdue, escalation),
    # NULL when no timer runs. paused_remaining_s keeps the working seconds left while
    # the clock is paused (缓办).
    due_at = models.DateTimeField(_("处置时限"), null=True, blank=True)
    # 立案时限: by when a new report must be filed or cancelled (dispatch.models.StageLimit),
    # set at intake; the evaluation counts the cases filed after it.
    file_due_at = models.DateTimeField(_("立案时限"), null=True, blank=True)
    # 核查时限: by when the inspector must check the unit's feedback on site
    # (dispatch.models.StageLimit), set at each feedback; chased by the SLA worker.
    verify_due_at = models.DateTimeField(_("核查时限"), null=True, blank=True)
    verify_overdue = models.BooleanField(_("核查超期"), default=False)
    warn_at = models.DateTimeField(_("预警时间"), null=True, blank=True)
    sla_check_at = models.DateTimeField(null=True, blank=True)
    paused_remaining_s = models.BigIntegerField(null=True, blank=True)
    # How the running limit is counted (a layers.models.LimitUnit value), fixed at dispatch.
    limit_unit = models.CharField(_("时限单位"), max_length=16, blank=True)
    warned = models.BooleanField(_("已预警"), default=False)
    overdue = models.BooleanField(_("已超期"), default=False)
    escalation_level = models.PositiveSmallIntegerField(_("督办级别"), default=0)
    closed_on_time = models.BooleanField(_("按期结案"), null=True, blank=True)
    suspended = models.BooleanField(_("曾缓办"), default=False)
    extensions = models.PositiveSmallIntegerField(_("延期次数"), default=0)
    reworks = models.PositiveSmallIntegerField(_("返工次数"), default=0)

    # 12345 work orders (dispatch.hotline). ticket_no is what the caller is told: given
    # once at intake, never changed. The reply (答复) and the call-back (回访) fields hold
    # the current round: a 不满意 call-back reopens the case (重办) and starts a new round;
    # earlier rounds are in the history. hotline_check_at is the SLA worker's next look
    # at the reply or call-back deadline (NULL: no hotline timer runs).
    ticket_no = models.CharField(_("工单编号"), max_length=20, unique=True, null=True, blank=True)
    ticket_type = models.CharField(
        _("工单类型"), max_length=12, choices=TicketType.choices, blank=True
    )
    reply_term = models.CharField(
        _("答复时限类别"), max_length=12, choices=ReplyTerm.choices, blank=True
    )
    reply_due_at = models.DateTimeField(_("答复时限"), null=True, blank=True)
    reply = models.TextField(_("答复内容"), blank=True)
    replied_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    reply_overdue = models.BooleanField(_("答复超期"), default=False)
    callback_due_at = models.DateTimeField(_("回访时限"), null=True, blank=True)
    callback_at = models.DateTimeField(_("回访时间"), null=True, blank=True)
    callback_reached = models.BooleanField(_("回访接通"), null=True, blank=True)
    callback_tries = models.PositiveSmallIntegerField(_("回访拨打次数"), default=0)
    callback_overdue = models.BooleanField(_("回访超期"), default=False)
    satisfaction = models.CharField(
        _("满意度"), max_length=12, choices=Satisfaction.choices, blank=True
    )
    reopens = models.PositiveSmallIntegerField(_("重办次数"), default=0)
    hotline_check_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("案件")
        verbose_name_plural = _("案件")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["street", "state"], name="case_street_state"),
            models.Index(fields=["district", "state"], name="case_district_state"),
            models.Index(fields=["unit", "state"], name="case_unit_state"),
            models.Index(fields=["cell"], name="case_cell"),
            models.Index(fields=["category", "state"], name="case_category_state"),
            # The periods of the evaluation tables.
            models.Index(fields=["filed_at"], name="case_filed_at"),
            models.Index(fields=["due_at"], name="case_due_at"),
            # The SLA worker's queue: only cases with a running timer are in it.
            models.Index(
                fields=["sla_check_at"],
                name="case_sla_due",
                condition=models.Q(sla_check_at__isnull=False),
            ),
            # The hotline's reply and call-back deadlines, chased by the same worker.
            models.Index(
                fields=["hotline_check_at"],
                name="case_hotline_due",
                condition=models.Q(hotline_check_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.category.name}"

    @property
    def is_open(self) -> bool:
        return self.state not in FINAL_STATES


class CaseEvent(models.Model):
    """One entry of a case's history. Append-only: a trigger refuses UPDATE and DELETE."""

    case = models.ForeignKey(Case, models.PROTECT, related_name="history")
    at = models.DateTimeField(_("时间"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("操作人"),
    )  # fmt: skip
    actor_unit = models.ForeignKey(
        "layers.Unit", models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("操作单位"),
    )  # fmt: skip
    action = models.CharField(_("操作"), max_length=20)
    from_state = models.CharField(_("原状态"), max_length=10, blank=True)
    to_state = models.CharField(_("新状态"), max_length=10)
    unit = models.ForeignKey(
        "layers.Unit", models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("责任单位"),
    )  # fmt: skip
    note = models.TextField(_("说明"), blank=True)
    # Routing rule and reason, extension asked for, verification result, merge target...
    data = models.JSONField(_("详情"), default=dict, blank=True)

    class Meta:
        verbose_name = _("案件历史")
        verbose_name_plural = _("案件历史")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"#{self.case_id} {self.action} {self.from_state}→{self.to_state}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ValidationError(_("案件历史只能追加，不能修改。"))
        super().save(*args, **kwargs)  # type: ignore[arg-type]


def _photo_path(photo: CasePhoto, filename: str) -> str:
    return f"cases/{photo.case_id}/{photo.sha256}{photo.extension}"


class CasePhoto(models.Model):
    case = models.ForeignKey(Case, models.PROTECT, related_name="photos")
    event = models.ForeignKey(
        CaseEvent, models.PROTECT, null=True, blank=True, related_name="photos"
    )
    image = models.FileField(_("照片"), upload_to=_photo_path)
    content_type = models.CharField(max_length=20)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("照片")
        verbose_name_plural = _("照片")

    @property
    def extension(self) -> str:
        return {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}.get(
            self.content_type, ""
        )


class Outbox(models.Model):
    """Live events in commit order. A writer inserts its event without a number; after
    it commits, the sequencer (incidents.outbox.sequence) numbers the committed events in
    order under a short lock, with OutboxCounter in the same transaction. Readers read
    numbered rows up to the counter only, so a higher number is never visible before a
    lower one: a client that resumes from the last number it saw misses nothing."""

    id = models.BigAutoField(primary_key=True)  # insertion order, gaps allowed
    # Gap-free; null until numbered. Readers read numbered rows only (up to the counter),
    # so to them it is a number: typed so.
    seq: models.BigIntegerField[int | None, int] = models.BigIntegerField(  # type: ignore[misc]
        null=True, unique=True
    )
    at = models.DateTimeField()
    kind = models.CharField(max_length=30)
    case = models.ForeignKey(Case, models.PROTECT, related_name="+", null=True)
    # Who may receive it: the case's places, its units, and the users following it.
    district_id = models.BigIntegerField(null=True)
    street_id = models.BigIntegerField(null=True)
    community_id = models.BigIntegerField(null=True)
    cell_id = models.BigIntegerField(null=True)
    unit_ids = ArrayField(models.BigIntegerField(), default=list)
    user_ids = ArrayField(models.BigIntegerField(), default=list)
    payload = models.JSONField()

    class Meta:
        verbose_name = _("实时事件")
        verbose_name_plural = _("实时事件")
        indexes = [
            models.Index(fields=["at"], name="outbox_at"),
            # What the sequencer looks for: the few rows not numbered yet.
            models.Index(fields=["id"], name="outbox_unnumbered", condition=Q(seq__isnull=True)),
        ]


class OutboxCounter(models.Model):
    """One row holding the last sequence number handed out, written only by the
    sequencer, in the transaction that numbers the events up to it."""

    last_seq = models.BigIntegerField(default=0)
