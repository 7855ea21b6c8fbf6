"""The administrative hierarchy: city → district → street → community → grid cell."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Tier(models.TextChoices):
    CITY = "city", _("市")
    DISTRICT = "district", _("区")
    STREET = "street", _("街道/镇")
    COMMUNITY = "community", _("社区/村")
    CELL = "cell", _("网格")


def in_language(name: str, name_en: str) -> str:
    """A name of the city's data in the interface's language (English where given)."""
    english = (get_language() or "").startswith("en")
    return name_en if english and name_en else name


# Length of the hierarchical code at each tier: district = 6-digit division code,
# then +3 digits for street, community and cell (15 digits for a cell).
CODE_LENGTH = {
    Tier.CITY: 6,
    Tier.DISTRICT: 6,
    Tier.STREET: 9,
    Tier.COMMUNITY: 12,
    Tier.CELL: 15,
}
PARENT_TIER = {
    Tier.DISTRICT: Tier.CITY,
    Tier.STREET: Tier.DISTRICT,
    Tier.COMMUNITY: Tier.STREET,
    Tier.CELL: Tier.COMMUNITY,
}
# The tiers an area's parent may have. A city without districts (不设区的市: 东莞, 中山,
# 嘉峪关, 儋州) has its streets and towns directly under the city; their codes extend the
# city's full code (441900003), and a placement's "district" is then the city itself.
PARENT_TIERS: dict[Tier, tuple[Tier, ...]] = {
    **{tier: (parent,) for tier, parent in PARENT_TIER.items()},
    Tier.STREET: (Tier.DISTRICT, Tier.CITY),
}


class AreaQuerySet(models.QuerySet["Area"]):
    def current(self) -> AreaQuerySet:
        """Areas in force today (a redrawn area keeps its old row with a valid_to date)."""
        return self.filter(valid_to__isnull=True)


class Area(models.Model):
    """One unit of the grid hierarchy. Boundaries get redrawn: a row is never edited in
    place once cases point at it; it gets a valid_to date and a successor row."""

    tier = models.CharField(_("层级"), max_length=10, choices=Tier.choices)
    code = models.CharField(_("编码"), max_length=15, db_index=True, db_collation="C")
    name = models.CharField(_("名称"), max_length=100)
    name_en = models.CharField(_("英文名"), max_length=100, blank=True)
    parent = models.ForeignKey(
        "self", models.PROTECT, null=True, blank=True, related_name="children"
    )
    geom = models.MultiPolygonField(_("边界"), srid=settings.GRID_SRID)
    valid_from = models.DateField(_("生效日期"))
    valid_to = models.DateField(_("失效日期"), null=True, blank=True)

    objects = AreaQuerySet.as_manager()

    class Meta:
        verbose_name = _("区域")
        verbose_name_plural = _("区域")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["code"], condition=Q(valid_to__isnull=True), name="area_code_current_unique"
            ),
        ]
        indexes = [models.Index(fields=["tier", "code"])]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def display_name(self) -> str:
        """Its name in the interface's language: the English name where the city gave
        one and the page is in English, else the official (Chinese) name."""
        return in_language(self.name, self.name_en)

    @property
    def inner_prefix(self) -> str:
        """What the codes of the areas inside it start with: its code, or "" for the
        city (PPCC00 is no prefix of its districts' PPCCDD)."""
        return "" if self.tier == Tier.CITY else self.code


class AreaPiece(models.Model):
    """ST_Subdivide pieces of current areas: small polygons make point-in-polygon fast.
    An area owns its pieces: every save keeps them in step (layers.placement.sync_pieces,
    connected in LayersConfig.ready); a retired area has none. Bulk writers rebuild them
    all at once (layers.placement.rebuild_pieces)."""

    area = models.ForeignKey(Area, models.CASCADE, related_name="pieces")
    tier = models.CharField(max_length=10, choices=Tier.choices)
    geom = models.PolygonField(srid=settings.GRID_SRID)

    class Meta:
        indexes = [models.Index(fields=["tier"])]
