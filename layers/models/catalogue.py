"""The component and event catalogue (部件/事件分类): data, editable in the admin."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from layers.models.areas import in_language


class CategoryKind(models.TextChoices):
    COMPONENT = "component", _("部件")
    EVENT = "event", _("事件")


class LimitUnit(models.TextChoices):
    WORKING_HOURS = "working_hours", _("工作时")
    WORKING_DAYS = "working_days", _("工作日")
    CALENDAR_HOURS = "calendar_hours", _("自然时")


class Category(models.Model):
    """A major class (minor_code empty) or a subcategory of the catalogue.

    Codes follow GB/T 30428.2 / CJ/T 214: major (2 digits) + minor (2 digits)."""

    kind = models.CharField(_("类型"), max_length=10, choices=CategoryKind.choices)
    major_code = models.CharField(_("大类代码"), max_length=2)
    minor_code = models.CharField(_("小类代码"), max_length=2, blank=True)
    name = models.CharField(_("名称"), max_length=60)
    name_en = models.CharField(_("英文名"), max_length=80, blank=True)
    filing_condition = models.TextField(_("立案条件"), blank=True)
    closing_condition = models.TextField(_("结案条件"), blank=True)
    time_limit = models.PositiveIntegerField(_("处置时限"), null=True, blank=True)
    urgent_time_limit = models.PositiveIntegerField(_("紧急处置时限"), null=True, blank=True)
    limit_unit = models.CharField(
        _("时限单位"), max_length=16, choices=LimitUnit.choices, default=LimitUnit.WORKING_HOURS
    )
    urgent_limit_unit = models.CharField(
        _("紧急时限单位"),
        max_length=16,
        choices=LimitUnit.choices,
        default=LimitUnit.CALENDAR_HOURS,
    )
    urgent_by_default = models.BooleanField(_("默认紧急"), default=False)
    default_unit_type = models.CharField(_("默认责任单位类型"), max_length=60, blank=True)
    # A new report of this category near an open case of the same category, within the
    # radius and the time window, is offered as its likely duplicate.
    duplicate_radius_m = models.PositiveIntegerField(_("疑似重复半径(米)"), default=50)
    duplicate_window_hours = models.PositiveIntegerField(_("疑似重复时间窗(小时)"), default=72)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("分类")
        verbose_name_plural = _("部件事件分类")
        ordering = ["kind", "major_code", "minor_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "major_code", "minor_code"], name="category_code_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.code} {self.name}"

    @property
    def display_name(self) -> str:
        """Its name in the interface's language (layers.models.areas.in_language)."""
        return in_language(self.name, self.name_en)

    @property
    def code(self) -> str:
        return self.major_code + self.minor_code

    @property
    def is_major(self) -> bool:
        return not self.minor_code
