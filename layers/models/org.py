"""Who works in the system: units with a tier and an area, and their staff's roles."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from layers.models.areas import in_language


class Role(models.TextChoices):
    INSPECTOR = "inspector", _("网格员")
    HOTLINE = "hotline", _("12345坐席")
    STREET = "street", _("街道调度员")
    DISTRICT = "district", _("区指挥中心")
    CITY = "city", _("市指挥中心")
    DEPARTMENT = "department", _("专业部门")
    LEADER = "leader", _("领导")
    DATA_ADMIN = "data_admin", _("基础数据管理员")


class UnitKind(models.TextChoices):
    # The territorial owner of an area (属地): the street office of a street, the command
    # centre of a district or of the city. Routing falls back to it (属地兜底).
    TERRITORIAL = "territorial", _("属地单位")
    DEPARTMENT = "department", _("专业部门")
    HOTLINE = "hotline", _("热线中心")
    OTHER = "other", _("其他")


class Unit(models.Model):
    """A unit: command centre, street office, department, hotline centre. Its area is the
    territory it answers for (the whole city for city-level units)."""

    name = models.CharField(_("名称"), max_length=100, unique=True)
    name_en = models.CharField(_("英文名"), max_length=150, blank=True)
    # The unit's own code (e.g. 统一社会信用代码): files of base data name units by name
    # or by code (layers.owners).
    code = models.CharField(_("单位代码"), max_length=40, blank=True)
    tier = models.CharField(_("层级"), max_length=10)  # layers.models.areas.Tier values
    kind = models.CharField(
        _("单位类型"), max_length=12, choices=UnitKind.choices, default=UnitKind.DEPARTMENT
    )
    # Matches Category.default_unit_type (e.g. 环卫部门, 水务部门) for routing by category.
    unit_type = models.CharField(_("专业类别"), max_length=60, blank=True)
    area = models.ForeignKey(
        "layers.Area", models.PROTECT, related_name="units", verbose_name=_("辖区")
    )

    class Meta:
        verbose_name = _("单位")
        verbose_name_plural = _("单位")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["code"], condition=~models.Q(code=""), name="unit_code_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        """Its name in the interface's language (layers.models.areas.in_language)."""
        return in_language(self.name, self.name_en)


class Staff(models.Model):
    """A user's post: one role in one unit; inspectors also have their own cells."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, related_name="staff")
    role = models.CharField(_("角色"), max_length=12, choices=Role.choices)
    unit = models.ForeignKey(Unit, models.PROTECT, related_name="staff", verbose_name=_("单位"))
    cells = models.ManyToManyField(
        "layers.Area", blank=True, related_name="inspectors", verbose_name=_("负责网格")
    )

    class Meta:
        verbose_name = _("工作人员")
        verbose_name_plural = _("工作人员")

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.get_role_display()})"
