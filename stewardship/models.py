"""Stewardship of the base layers (一数一源, 一级采集): where each record came from, what
changed in it field by field, which unit owns each layer, and the changes inspectors
propose.

Generic tables keyed by layer (content type) and record id, rather than columns on every
layers model: migrations here, none in the shared app. A bulk import writes one Source
row per batch, naming the range of ids it inserted, plus one narrow ImportedRow per
existing record it changed (set-based).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.contrib.gis.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


class SourceKind(models.TextChoices):
    IMPORT = "import", _("批量导入")
    EDIT = "edit", _("直接修改")
    PROPOSAL = "proposal", _("采集建议")
    MERGE = "merge", _("合并重复")


class Source(models.Model):
    """Where a change came from: one import batch, or one interactive change of one record
    (an edit, an accepted proposal, a merge). Its field changes hang from it."""

    kind = models.CharField(_("来源类型"), max_length=10, choices=SourceKind.choices)
    layer = models.ForeignKey(ContentType, models.PROTECT, related_name="+", verbose_name=_("图层"))
    unit = models.ForeignKey(
        "layers.Unit", models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("来源部门"),
    )  # fmt: skip
    system = models.CharField(_("来源系统"), max_length=60, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("操作人"),
    )  # fmt: skip
    at = models.DateTimeField(_("时间"), default=timezone.now, db_index=True)
    file_name = models.CharField(_("文件"), max_length=255, blank=True)
    inserted = models.PositiveIntegerField(_("新增"), default=0)
    # An import batch's inserted rows: the ids from first_id to last_id. The layer is
    # locked for the import, so every id in that range that exists is one of them.
    first_id = models.BigIntegerField(null=True, blank=True)
    last_id = models.BigIntegerField(null=True, blank=True)
    updated = models.PositiveIntegerField(_("更新"), default=0)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    # An accepted proposal: `user` proposed it, the proposal names who accepted it.
    proposal = models.ForeignKey(
        "stewardship.Proposal", models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("采集建议"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("数据来源")
        verbose_name_plural = _("数据来源")
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} {self.at:%Y-%m-%d %H:%M}"


class ImportedRow(models.Model):
    """A record an import batch changed (its inserted rows are Source.first_id..last_id).
    Keyed by record id first: 'which batches wrote record X' reads the key's index."""

    pk = models.CompositePrimaryKey("object_id", "source")
    object_id = models.BigIntegerField()
    source = models.ForeignKey(Source, models.CASCADE, related_name="+", db_constraint=False)

    class Meta:
        verbose_name = _("导入记录")
        verbose_name_plural = _("导入记录")


class FieldChange(models.Model):
    """One field of one record changed: its old and new value, as text."""

    source = models.ForeignKey(
        Source, models.PROTECT, related_name="changes", verbose_name=_("来源")
    )
    layer = models.ForeignKey(ContentType, models.PROTECT, related_name="+")
    object_id = models.BigIntegerField(_("记录"))
    field = models.CharField(_("字段"), max_length=60)
    old = models.TextField(_("原值"), blank=True)
    new = models.TextField(_("新值"), blank=True)

    class Meta:
        verbose_name = _("字段变更")
        verbose_name_plural = _("字段变更")
        indexes = [models.Index(fields=["layer", "object_id"], name="fieldchange_record")]

    def __str__(self) -> str:
        return f"{self.field}: {self.old} → {self.new}"


class LayerOwner(models.Model):
    """The department that owns a layer (一数一源): its staff's changes apply directly;
    everyone else proposes, and the owner or a data administrator decides."""

    layer = models.OneToOneField(
        ContentType, models.PROTECT, related_name="+", verbose_name=_("图层")
    )
    unit = models.ForeignKey(
        "layers.Unit", models.PROTECT, related_name="+", verbose_name=_("权属部门")
    )

    class Meta:
        verbose_name = _("图层权属部门")
        verbose_name_plural = _("图层权属部门")

    def __str__(self) -> str:
        return f"{self.layer} → {self.unit}"


class Verification(models.Model):
    """Someone confirmed on site that a record is still right (no field changed)."""

    layer = models.ForeignKey(ContentType, models.PROTECT, related_name="+")
    object_id = models.BigIntegerField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.SET_NULL, null=True, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("核实")
        verbose_name_plural = _("核实")
        indexes = [models.Index(fields=["layer", "object_id", "at"], name="verification_record")]


class ProposalStatus(models.TextChoices):
    PENDING = "pending", _("待审核")
    ACCEPTED = "accepted", _("已采纳")
    REJECTED = "rejected", _("已驳回")


def _area(label: StrOrPromise) -> models.ForeignKey[Any, Any]:
    return models.ForeignKey(
        "layers.Area", models.DO_NOTHING, null=True, blank=True, related_name="+",
        db_constraint=False, verbose_name=label,
    )  # fmt: skip


def _photo_path(proposal: Proposal, filename: str) -> str:
    return f"proposals/{proposal.proposer_id}/{proposal.photo_sha256}{proposal.photo_extension}"


class Proposal(models.Model):
    """A new record or a change proposed by someone who does not own the layer (an
    inspector collecting in their cells, 一级采集), waiting for review."""

    layer = models.ForeignKey(ContentType, models.PROTECT, related_name="+", verbose_name=_("图层"))
    object_id = models.BigIntegerField(_("记录"), null=True, blank=True)  # empty: new record
    values = models.JSONField(_("字段值"), default=dict)
    geom = models.PointField(_("位置"), srid=settings.GRID_SRID, null=True, blank=True)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    photo = models.FileField(_("照片"), upload_to=_photo_path, blank=True)
    photo_sha256 = models.CharField(max_length=64, blank=True)
    photo_extension = models.CharField(max_length=8, blank=True)
    proposer = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, related_name="+", verbose_name=_("提出人")
    )
    # The phone's id of a queued proposal: sent twice (offline queue), it is kept once.
    client_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(_("提出时间"), default=timezone.now)
    # Where the proposal lies, as a base record is placed: layers.access.within() and the
    # review queue's scope filter on these (no constraint, as in layers.models.base).
    cell = _area(_("网格"))
    community = _area(_("社区"))
    street = _area(_("街道"))
    district = _area(_("区"))
    status = models.CharField(
        _("状态"), max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.PENDING
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("审核人"),
    )  # fmt: skip
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    reason = models.CharField(_("驳回原因"), max_length=500, blank=True)
    result_id = models.BigIntegerField(_("结果记录"), null=True, blank=True)

    class Meta:
        verbose_name = _("采集建议")
        verbose_name_plural = _("采集建议")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["proposer", "client_id"],
                condition=~models.Q(client_id=""),
                name="proposal_client_id_unique",
            )
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(status="pending"),
                name="proposal_pending",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.layer} {self.get_status_display()}"


class MergedRecord(models.Model):
    """A duplicate merged into another record: its values kept, for the history."""

    source = models.ForeignKey(Source, models.PROTECT, related_name="+")
    layer = models.ForeignKey(ContentType, models.PROTECT, related_name="+")
    kept_id = models.BigIntegerField(_("保留记录"))
    removed_id = models.BigIntegerField(_("被合并记录"))
    values = models.JSONField(_("被合并记录的字段值"))

    class Meta:
        verbose_name = _("合并记录")
        verbose_name_plural = _("合并记录")
        indexes = [models.Index(fields=["layer", "kept_id"], name="mergedrecord_kept")]
