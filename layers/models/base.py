"""Base layers of the one map, each record placed into its grid cell (基础数据精确入格)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

from layers import validators
from layers.addresses import normalise_address

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


# Codes (ID numbers, credit codes, component and address codes) are ASCII and compared
# byte by byte: the "C" collation sorts them in code order and builds their unique
# indexes about 40% faster than the database's default (C.UTF-8, through strcoll).
CODE_COLLATION = "C"


@deconstructible
class CodeCheck:
    """A Django field validator (admin forms, full_clean) from a layers.validators check,
    named so that migrations can refer to it."""

    def __init__(self, check: str) -> None:
        self.check = check

    def __call__(self, value: str) -> None:
        try:
            getattr(validators, self.check)(value)
        except validators.InvalidCode as exc:
            raise ValidationError(str(exc)) from exc

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CodeCheck) and other.check == self.check

    def __hash__(self) -> int:
        return hash(self.check)


def _placement_fk(tier_label: StrOrPromise, *, indexed: bool = True) -> models.ForeignKey:
    # Placements are written only by layers.placement (bulk imports write them in one
    # set-based statement); areas are never deleted, they get a valid_to date. A database
    # constraint would cost one lookup per row and field on bulk writes, so it is left out
    # and `check_grid` reports orphan placements instead.
    return models.ForeignKey(
        "layers.Area",
        models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=indexed,
        verbose_name=tier_label,
    )


class Placed(models.Model):
    """A point on the one map and the cell, community, street and district it lies in."""

    geom = models.PointField(_("位置"), srid=settings.GRID_SRID)
    # Indexed: cell (the grid's own unit) and street (the street office's scope). A
    # community is a handful of cells, found through the cell index; a district holds a
    # tenth of a layer, which PostgreSQL scans rather than reads through an index. Each
    # index left out saves 0.5 s per million rows imported.
    cell = _placement_fk(_("网格"))
    community = _placement_fk(_("社区"), indexed=False)
    street = _placement_fk(_("街道"))
    district = _placement_fk(_("区"), indexed=False)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        abstract = True

    def place(self) -> None:
        """Set the four placement fields from the point (border-inclusive)."""
        from layers.placement import place_point

        placement = place_point(self.geom)
        self.cell_id = placement.cell.pk
        self.community_id = placement.community.pk
        self.street_id = placement.street.pk
        self.district_id = placement.district.pk

    def save(self, *args: object, **kwargs: object) -> None:
        # Interactive path: a new or moved record is re-placed on save. Bulk imports set
        # placements themselves and never go through save().
        if self._state.adding or self._geom_changed():
            self.place()
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def _geom_changed(self) -> bool:
        old = type(self)._default_manager.filter(pk=self.pk).values_list("geom", flat=True).first()
        return old is None or not old.equals_exact(self.geom, 1e-9)


class PersonType(models.TextChoices):
    REGISTERED = "registered", _("户籍人口")
    FLOATING = "floating", _("流动人口")
    FOREIGN = "foreign", _("境外人员")


class Person(Placed):
    """Population record (人口). ID number and phone are personal data: shown masked except
    to the roles named in layers.access."""

    name = models.CharField(_("姓名"), max_length=50)
    id_number = models.CharField(
        _("公民身份号码"),
        max_length=18,
        db_collation=CODE_COLLATION,
        validators=[CodeCheck("validate_id_number")],
    )
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    household = models.CharField(_("户号"), max_length=30, blank=True)
    address = models.CharField(_("居住地址"), max_length=200, blank=True)
    person_type = models.CharField(
        _("人口类型"), max_length=12, choices=PersonType.choices, default=PersonType.REGISTERED
    )

    class Meta:
        verbose_name = _("人口")
        verbose_name_plural = _("人口")
        constraints = [
            models.UniqueConstraint(fields=["id_number"], name="person_id_number_unique")
        ]

    def __str__(self) -> str:
        from layers.masking import mask_name

        return mask_name(self.name)


class EntityStatus(models.TextChoices):
    ACTIVE = "active", _("存续")
    CANCELLED = "cancelled", _("注销")
    REVOKED = "revoked", _("吊销")


class LegalEntity(Placed):
    """Legal entity (法人/单位), keyed by its unified social credit code (GB 32100)."""

    credit_code = models.CharField(
        _("统一社会信用代码"),
        max_length=18,
        db_collation=CODE_COLLATION,
        validators=[CodeCheck("validate_credit_code")],
    )
    name = models.CharField(_("名称"), max_length=200)
    entity_type = models.CharField(_("单位类型"), max_length=30, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    status = models.CharField(
        _("状态"), max_length=10, choices=EntityStatus.choices, default=EntityStatus.ACTIVE
    )

    class Meta:
        verbose_name = _("法人单位")
        verbose_name_plural = _("法人单位")
        constraints = [
            models.UniqueConstraint(fields=["credit_code"], name="legalentity_credit_code_unique")
        ]

    def __str__(self) -> str:
        return self.name


def _unit_fk(label: StrOrPromise) -> models.ForeignKey:
    # SET_NULL: a unit removed leaves its name in the text column, listed by
    # `component_units` like any unknown name. Imports write the references they looked
    # up in their own transaction; as for placements, a database constraint and an index
    # would cost a lookup and an index entry per row of a million-row import, for the
    # rare deletion of a unit (a scan then).
    return models.ForeignKey(
        "layers.Unit", models.SET_NULL, null=True, blank=True, related_name="+",
        db_constraint=False, db_index=False, verbose_name=label,
    )  # fmt: skip


class ComponentState(models.TextChoices):
    NORMAL = "normal", _("完好")
    DAMAGED = "damaged", _("破损")
    MISSING = "missing", _("丢失")
    OCCUPIED = "occupied", _("占用")
    RETIRED = "retired", _("废弃")


class Component(Placed):
    """Urban component (城市部件). Its 16-digit ID is district (6) + major (2) + minor (2)
    + serial (6); the major and minor codes name its catalogue subcategory."""

    code = models.CharField(
        _("部件标识码"),
        max_length=16,
        db_collation=CODE_COLLATION,
        validators=[CodeCheck("validate_component_code")],
    )
    # No database constraint, for the same reason as placements: imports check every
    # class against the catalogue, and PROTECT keeps a used category from being deleted.
    category = models.ForeignKey(
        "layers.Category",
        models.PROTECT,
        related_name="components",
        db_constraint=False,
        verbose_name=_("小类"),
    )
    name = models.CharField(_("名称"), max_length=100, blank=True)
    # The 主管部门, 权属单位 and 养护单位 as the source names them (a unit's name or code),
    # and the units they name (layers.owners keeps the pairs in step). A name that no
    # unit matches stays as text with no reference; `manage.py component_units` lists them.
    # Routing sends a report about the component to its maintainer (dispatch.routing).
    competent_unit = models.CharField(_("主管部门名称"), max_length=100, blank=True)
    owner_unit = models.CharField(_("权属单位名称"), max_length=100, blank=True)
    maintainer_unit = models.CharField(_("养护单位名称"), max_length=100, blank=True)
    competent = _unit_fk(_("主管部门"))
    owner = _unit_fk(_("权属单位"))
    maintainer = _unit_fk(_("养护单位"))
    state = models.CharField(
        _("状态"), max_length=10, choices=ComponentState.choices, default=ComponentState.NORMAL
    )

    class Meta:
        verbose_name = _("部件")
        verbose_name_plural = _("部件")
        constraints = [models.UniqueConstraint(fields=["code"], name="component_code_unique")]

    def __str__(self) -> str:
        return self.code

    def save(self, *args: Any, **kwargs: Any) -> None:
        from layers.owners import settle_units

        kwargs["update_fields"] = settle_units(self, kwargs.get("update_fields"))
        super().save(*args, **kwargs)


class Address(Placed):
    """Standard address (标准地址): what 12345 operators geocode a caller's words against
    (incidents.geocoding)."""

    code = models.CharField(_("地址编码"), max_length=30, db_collation=CODE_COLLATION)
    text = models.CharField(_("标准地址"), max_length=200)
    road = models.CharField(_("街路巷"), max_length=60, blank=True)
    house_number = models.CharField(_("门牌号"), max_length=20, blank=True)
    building_name = models.CharField(_("建筑物/小区"), max_length=60, blank=True)
    # normalise_address(text), kept by save() and by the bulk import (vectorized), so that
    # the trigram index below is built on the same words a query is turned into. A stored
    # column rather than an expression index: the normal form is defined once, in Python.
    search_text = models.TextField(_("检索文本"), blank=True, default="", editable=False)

    class Meta:
        verbose_name = _("标准地址")
        verbose_name_plural = _("标准地址")
        constraints = [models.UniqueConstraint(fields=["code"], name="address_code_unique")]
        indexes = [
            GinIndex(
                fields=["search_text"], opclasses=["gin_trgm_ops"], name="address_search_trgm"
            ),
            # The addresses of one road name in house-number order: the geocoder's first
            # candidates (a range of `<road name> <digit>`, see migration 0007).
            models.Index(
                fields=["search_text"], opclasses=["text_pattern_ops"], name="address_search_road"
            ),
        ]

    def __str__(self) -> str:
        return self.text

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.search_text = normalise_address(self.text)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "text" in update_fields:
            kwargs["update_fields"] = {*update_fields, "search_text"}
        super().save(*args, **kwargs)


class Building(Placed):
    """Building (建筑物) with its representative point."""

    code = models.CharField(_("建筑物编码"), max_length=30, db_collation=CODE_COLLATION)
    name = models.CharField(_("名称"), max_length=100)
    address_text = models.CharField(_("地址"), max_length=200, blank=True)
    floors = models.PositiveSmallIntegerField(_("层数"), null=True, blank=True)

    class Meta:
        verbose_name = _("建筑物")
        verbose_name_plural = _("建筑物")
        constraints = [models.UniqueConstraint(fields=["code"], name="building_code_unique")]

    def __str__(self) -> str:
        return self.name
