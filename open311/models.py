"""Open311 client applications, their API keys, the extra fields some services ask for,
and which application filed which case.

A client application (an app, a dashboard, a CRM) files cases as its own service user: a
12345 hotline post (Role.HOTLINE) in the hotline unit the administrator picks, created
with the application and unable to sign in. Cases it files carry that user as reporter,
so intake, history and the access rules treat them as hotline tickets of the channel the
application is tied to. Its intake scope (an area) bounds where it may file and which
requests it reads with its key (docs/open311.md).

API keys are stored as a SHA-256 hash only: the key itself is shown once, when it is
issued (admin, or `manage.py issue_open311_key`), and is revoked by a date, never deleted.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from incidents.models import Channel
from layers.models import Tier, UnitKind

# Channels a client application may report through: every one but the inspectors' app.
CLIENT_CHANNELS = [(value, label) for value, label in Channel.choices if value != Channel.APP]
# An intake scope is the city, a district, a street or a community in force.
SCOPE_TIERS = [Tier.CITY, Tier.DISTRICT, Tier.STREET, Tier.COMMUNITY]


class ClientApplication(models.Model):
    name = models.CharField(_("名称"), max_length=100, unique=True)
    contact = models.CharField(_("联系人及联系方式"), max_length=200, blank=True)
    channel = models.CharField(
        _("渠道"), max_length=10, choices=CLIENT_CHANNELS, default=Channel.WEB
    )
    scope = models.ForeignKey(
        "layers.Area", models.PROTECT, related_name="+", verbose_name=_("受理范围"),
        limit_choices_to={"valid_to__isnull": True, "tier__in": SCOPE_TIERS},
        help_text=_("应用只能在此区域内上报，用密钥查询时只看到此区域内的案件。"),
    )  # fmt: skip
    unit = models.ForeignKey(
        "layers.Unit", models.PROTECT, related_name="+", verbose_name=_("受理单位"),
        limit_choices_to={"kind": UnitKind.HOTLINE},
        help_text=_("以哪个热线中心的名义受理此应用的上报。"),
    )  # fmt: skip
    # The service user the application's cases are filed as. Empty only between the
    # application's first save and the creation of its user (open311.clients), inside
    # one transaction: the user's name carries the application's id.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, editable=False,
        related_name="open311_client", verbose_name=_("服务账号"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("Open311客户端应用")
        verbose_name_plural = _("Open311客户端应用")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def active(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    application = models.ForeignKey(
        ClientApplication, models.PROTECT, related_name="keys", verbose_name=_("客户端应用")
    )
    label = models.CharField(_("备注"), max_length=100, blank=True)
    # The key's first characters, to tell keys apart in lists and logs.
    prefix = models.CharField(_("密钥前缀"), max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("签发时间"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, editable=False,
        related_name="+", verbose_name=_("签发人"),
    )  # fmt: skip
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = _("Open311密钥")
        verbose_name_plural = _("Open311密钥")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.application})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Datatype(models.TextChoices):
    STRING = "string", _("单行文字")
    NUMBER = "number", _("数字")
    DATETIME = "datetime", _("日期时间")
    TEXT = "text", _("多行文字")
    SINGLEVALUELIST = "singlevaluelist", _("单选")
    MULTIVALUELIST = "multivaluelist", _("多选")


LIST_DATATYPES = frozenset({Datatype.SINGLEVALUELIST, Datatype.MULTIVALUELIST})
_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
# Every component service has this attribute already (open311.catalogue).
COMPONENT_CODE = "component_code"


class ServiceAttribute(models.Model):
    """An extra field a service (a subcategory of the catalogue) asks for: the attributes
    of its GeoReport v2 service definition. The answers land in Case.attributes."""

    category = models.ForeignKey(
        "layers.Category", models.CASCADE, related_name="open311_attributes",
        verbose_name=_("分类"), limit_choices_to={"active": True, "minor_code__gt": ""},
    )  # fmt: skip
    code = models.CharField(
        _("代码"), max_length=40, help_text=_("字母开头，字母、数字或下划线，如 plate_number。")
    )
    description = models.CharField(_("提示"), max_length=200)
    datatype = models.CharField(_("数据类型"), max_length=16, choices=Datatype.choices)
    datatype_description = models.CharField(_("格式说明"), max_length=200, blank=True)
    required = models.BooleanField(_("必填"), default=False)
    # False: the attribute only shows information to the person reporting, takes no input.
    variable = models.BooleanField(_("需要填写"), default=True)
    order = models.PositiveSmallIntegerField(_("顺序"), default=1)
    choices = models.TextField(
        _("选项"), blank=True,
        help_text=_("单选、多选时填写，每行一项：代码=名称，如 large=大件垃圾。"),
    )  # fmt: skip
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("Open311附加字段")
        verbose_name_plural = _("Open311附加字段")
        ordering = ["category", "order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["category", "code"], name="open311_attribute_code"),
            models.UniqueConstraint(fields=["category", "order"], name="open311_attribute_order"),
            models.CheckConstraint(condition=models.Q(order__gte=1), name="open311_order_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.category.code} {self.code}"

    def values(self) -> list[tuple[str, str]]:
        """The (key, name) options of a list attribute, in the order written."""
        pairs = []
        for line in self.choices.splitlines():
            if line.strip():
                key, _sep, name = line.partition("=")
                pairs.append((key.strip(), name.strip() or key.strip()))
        return pairs

    def clean(self) -> None:
        if not _CODE.fullmatch(self.code):
            raise ValidationError({"code": _("代码须以字母开头，只含字母、数字和下划线。")})
        if self.code == COMPONENT_CODE:
            raise ValidationError(
                {"code": _("component_code 是部件类服务自带的字段，请换一个代码。")}
            )
        values = self.values()
        if self.datatype in LIST_DATATYPES:
            keys = [key for key, _name in values]
            if not keys or any(not key for key in keys):
                raise ValidationError({"choices": _("单选、多选须逐行填写“代码=名称”。")})
            if len(set(keys)) != len(keys):
                raise ValidationError({"choices": _("选项代码不能重复。")})
        elif values:
            raise ValidationError({"choices": _("只有单选、多选需要选项。")})


class Open311Request(models.Model):
    """A case filed through Open311: which application filed it, and the contact details
    its reporter gave beyond name and phone (those are the case's caller fields). Never
    returned by the API's GET methods."""

    case = models.OneToOneField(
        "incidents.Case", models.PROTECT, related_name="open311", verbose_name=_("案件")
    )
    application = models.ForeignKey(
        ClientApplication, models.PROTECT, related_name="requests", verbose_name=_("客户端应用")
    )
    email = models.EmailField(_("电子邮箱"), blank=True)
    device_id = models.CharField(_("设备编号"), max_length=100, blank=True)
    account_id = models.CharField(_("账号"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("提交时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("Open311上报")
        verbose_name_plural = _("Open311上报")

    def __str__(self) -> str:
        return f"#{self.case_id} ({self.application})"
