"""巡查 (patrol): inspectors' shifts on duty, the positions their phones send while on
duty (a table partitioned by day, migrations/0001), and each cell's coverage per day.

Positions are personal data (PIPL): kept PATROL_RETENTION_DAYS days (whole daily
partitions are dropped, patrol.partitions), read only through patrol.access, and every
read of them is audited."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Shift(models.Model):
    """One stretch on duty (上岗 → 下岗). An open shift has no end; a user has at most one."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.CASCADE, related_name="shifts", verbose_name=_("网格员")
    )
    started_at = models.DateTimeField(_("上岗时间"))
    ended_at = models.DateTimeField(_("下岗时间"), null=True, blank=True)
    # The last position received, kept here so that the on-duty map and the verification
    # hook read one row per inspector, not the track.
    last_at = models.DateTimeField(_("最近定位时间"), null=True, blank=True)
    last_geom = models.PointField(_("最近位置"), srid=settings.GRID_SRID, null=True, blank=True)

    class Meta:
        verbose_name = _("上岗记录")
        verbose_name_plural = _("上岗记录")
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=Q(ended_at__isnull=True), name="patrol_one_open_shift"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="patrol_shift_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["user", "started_at"], name="patrol_shift_user_start")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.started_at:%Y-%m-%d %H:%M}"


class Position(models.Model):
    """One GPS fix of an inspector on duty, in the storage SRID. The table is partitioned
    by day (Asia/Shanghai) in the database (migrations/0001, patrol.partitions); written
    in bulk by patrol.ingest, never saved one by one."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    shift = models.ForeignKey(Shift, models.DO_NOTHING, db_constraint=False, related_name="+")
    at = models.DateTimeField(_("定位时间"))
    geom = models.PointField(_("位置"), srid=settings.GRID_SRID)
    accuracy_m = models.FloatField(_("精度（米）"), null=True, blank=True)

    class Meta:
        verbose_name = _("巡查轨迹点")
        verbose_name_plural = _("巡查轨迹点")
        managed = False  # partitioned: created by RunSQL (migrations/0001)
        db_table = "patrol_position"


class CellCoverage(models.Model):
    """How a cell was patrolled on one day (Asia/Shanghai): minutes spent in it and km
    walked in it by inspectors on duty. A cell without a row that day was not visited."""

    cell = models.ForeignKey(
        "layers.Area", models.CASCADE, related_name="+", verbose_name=_("网格")
    )
    day = models.DateField(_("日期"))
    minutes = models.FloatField(_("巡查分钟数"))
    km = models.FloatField(_("巡查公里数"))
    positions = models.PositiveIntegerField(_("定位点数"))
    inspectors = models.PositiveSmallIntegerField(_("巡查人数"))

    class Meta:
        verbose_name = _("网格巡查覆盖")
        verbose_name_plural = _("网格巡查覆盖")
        constraints = [
            models.UniqueConstraint(fields=["day", "cell"], name="patrol_coverage_day_cell")
        ]

    def __str__(self) -> str:
        return f"{self.cell_id} {self.day}"


class CoverageDay(models.Model):
    """When a day's coverage was last computed: a past day once, today again when stale."""

    day = models.DateField(_("日期"), primary_key=True)
    computed_at = models.DateTimeField(_("计算时间"))

    class Meta:
        verbose_name = _("覆盖计算记录")
        verbose_name_plural = _("覆盖计算记录")

    def __str__(self) -> str:
        return f"{self.day}"
