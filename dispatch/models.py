"""Data the dispatch engine runs on: routing rules, the working calendar, assignments and
extension requests. Rules and the calendar are data, edited in the admin."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, models
from django.utils.translation import gettext_lazy as _

from incidents.models import Case, Channel, ReplyTerm, TicketType
from layers.models import LimitUnit


class TargetTier(models.TextChoices):
    STREET = "street", _("街道")
    DISTRICT = "district", _("区")
    CITY = "city", _("市")


class RoutingRule(models.Model):
    """(category, area, channel, time of day) → tier and unit. The first active rule in
    `order` whose conditions all hold fires; an empty condition matches anything."""

    order = models.PositiveIntegerField(_("顺序"), default=100)
    name = models.CharField(_("名称"), max_length=100)
    active = models.BooleanField(_("启用"), default=True)
    # A major class (minor code empty) matches all its subcategories.
    category = models.ForeignKey(
        "layers.Category", models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("分类"),
    )  # fmt: skip
    area = models.ForeignKey(
        "layers.Area", models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("区域"),
    )  # fmt: skip
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices, blank=True)
    # Local time of day (Asia/Shanghai); from > to spans midnight (e.g. 18:00–08:30).
    time_from = models.TimeField(_("起始时刻"), null=True, blank=True)
    time_to = models.TimeField(_("结束时刻"), null=True, blank=True)
    tier = models.CharField(_("派遣层级"), max_length=10, choices=TargetTier.choices)
    # The territorial owner at the tier (street office, district or city command centre),
    # never a department: e.g. night emergencies go to the command centre on duty.
    owner_only = models.BooleanField(_("只派属地单位"), default=False)
    # A new report this rule fires for is filed and dispatched at once, without waiting
    # for a dispatcher (自动立案派遣: simple matters the street handles itself).
    auto_dispatch = models.BooleanField(_("自动立案派遣"), default=False)
    # Empty: the department of the category's unit type at that tier over the case's
    # place, else the territorial owner there (属地).
    unit = models.ForeignKey(
        "layers.Unit", models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("责任单位"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("派遣规则")
        verbose_name_plural = _("派遣规则")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.order} {self.name}"


class Assignment(models.Model):
    """One dispatch (or escalation) of a case to a unit, with the rule that chose it."""

    case = models.ForeignKey(Case, models.PROTECT, related_name="assignments")
    unit = models.ForeignKey("layers.Unit", models.PROTECT, related_name="+")
    tier = models.CharField(max_length=10, choices=TargetTier.choices)
    rule = models.ForeignKey(
        RoutingRule, models.SET_NULL, null=True, blank=True, related_name="assignments"
    )
    reason = models.TextField()
    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("派遣记录")
        verbose_name_plural = _("派遣记录")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"#{self.case_id} → {self.unit}"


class ExtensionKind(models.TextChoices):
    EXTEND = "extend", _("延期")  # the deadline moves later
    SUSPEND = "suspend", _("缓办")  # the clock stops until the case is resumed


class ExtensionRequest(models.Model):
    case = models.ForeignKey(Case, models.PROTECT, related_name="extension_requests")
    kind = models.CharField(_("类型"), max_length=10, choices=ExtensionKind.choices)
    # Extra working hours asked for (延期); empty for 缓办.
    hours = models.PositiveIntegerField(_("延长工作时"), null=True, blank=True)
    reason = models.TextField(_("理由"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    approved = models.BooleanField(null=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("延期/缓办申请")
        verbose_name_plural = _("延期/缓办申请")
        constraints = [
            # At most one undecided request per case.
            models.UniqueConstraint(
                fields=["case"],
                condition=models.Q(approved__isnull=True),
                name="one_pending_extension",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.case_id} {self.get_kind_display()}"


class HotlineTerm(models.Model):
    """The time limits of a class of 12345 tickets (答复时限), edited in the admin: the
    reply to the caller counted from the ticket's intake (and from a 重办), and the
    call-back (回访) counted from the reply; after `callback_tries` unanswered calls the
    call-back is recorded as not reached."""

    term = models.CharField(
        _("答复时限类别"), max_length=12, choices=ReplyTerm.choices, unique=True
    )
    reply_limit = models.PositiveIntegerField(_("答复时限"))
    reply_unit = models.CharField(_("答复时限单位"), max_length=16, choices=LimitUnit.choices)
    callback_limit = models.PositiveIntegerField(_("回访时限"))
    callback_unit = models.CharField(_("回访时限单位"), max_length=16, choices=LimitUnit.choices)
    callback_tries = models.PositiveSmallIntegerField(_("回访最多拨打次数"), default=3)

    class Meta:
        verbose_name = _("热线答复时限")
        verbose_name_plural = _("热线答复时限")
        ordering = ["reply_unit", "reply_limit"]

    def __str__(self) -> str:
        return str(self.get_term_display())


class Stage(models.TextChoices):
    FILE = "file", _("立案")
    # 核查: the inspector checks the unit's feedback on site by then, counted from it.
    VERIFY = "verify", _("核查")


class StageLimit(models.Model):
    """The time limit of a stage of the case loop beside disposal, edited in the admin:
    立案 (a new report is filed or cancelled by then), counted from the intake; 核查 (the
    inspector checks the unit's feedback on site by then), counted from the feedback."""

    stage = models.CharField(_("环节"), max_length=10, choices=Stage.choices, unique=True)
    limit = models.PositiveIntegerField(_("时限"))
    unit = models.CharField(_("时限单位"), max_length=16, choices=LimitUnit.choices)

    class Meta:
        verbose_name = _("环节时限")
        verbose_name_plural = _("环节时限")

    def __str__(self) -> str:
        return f"{self.get_stage_display()} {self.limit} {self.get_unit_display()}"


class PartState(models.TextChoices):
    DISPATCHED = "dispatched", _("待签收")
    SIGNED = "signed", _("处置中")
    HANDLED = "handled", _("已反馈")


class CasePart(models.Model):
    """The part of a co-unit (协办单位) in a case: the lead unit (主办, Case.unit) holds the
    case and its state; each co-unit named at dispatch or re-dispatch signs for its part
    and reports its own feedback (note, photos in the history). The case goes to
    verification when the lead reports; parts still open are listed on the case."""

    case = models.ForeignKey(Case, models.PROTECT, related_name="parts")
    unit = models.ForeignKey("layers.Unit", models.PROTECT, related_name="+",
                             verbose_name=_("协办单位"))  # fmt: skip
    state = models.CharField(_("协办状态"), max_length=10, choices=PartState.choices,
                             default=PartState.DISPATCHED)  # fmt: skip
    assigned_at = models.DateTimeField(_("派遣时间"))
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    signed_at = models.DateTimeField(_("签收时间"), null=True, blank=True)
    handled_at = models.DateTimeField(_("反馈时间"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.TextField(_("反馈情况"), blank=True)
    # The co_handle history entry: its photos are the part's.
    feedback = models.ForeignKey(
        "incidents.CaseEvent", models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("协办")
        verbose_name_plural = _("协办")
        ordering = ["assigned_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "unit"], name="one_part_per_unit"),
        ]
        indexes = [models.Index(fields=["unit", "state"], name="part_unit_state")]

    def __str__(self) -> str:
        return f"#{self.case_id} 协办 {self.unit_id}"

    @property
    def is_open(self) -> bool:
        return self.state != PartState.HANDLED


class TicketKind(models.Model):
    """A 12345 ticket type (咨询, 投诉 …): the reply term it gets unless the operator picks
    another (an urgent ticket is always 紧急), and whether the hotline may close it on the
    phone without dispatch (直接办结)."""

    ticket_type = models.CharField(
        _("工单类型"), max_length=12, choices=TicketType.choices, unique=True
    )
    default_term = models.CharField(
        _("默认答复时限类别"), max_length=12, choices=ReplyTerm.choices,
        default=ReplyTerm.GENERAL,
    )  # fmt: skip
    direct_close = models.BooleanField(_("可直接办结"), default=False)

    class Meta:
        verbose_name = _("热线工单类型")
        verbose_name_plural = _("热线工单类型")
        ordering = ["id"]

    def __str__(self) -> str:
        return str(self.get_ticket_type_display())


class CalendarDay(models.Model):
    """An exception to the Monday–Friday working week: a public holiday on a weekday
    (is_workday False) or a weekend day worked instead (调休, is_workday True)."""

    date = models.DateField(_("日期"), unique=True)
    is_workday = models.BooleanField(_("工作日"))
    name = models.CharField(_("说明"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("工作日历")
        verbose_name_plural = _("工作日历")
        ordering = ["date"]

    def __str__(self) -> str:
        kind = _("上班") if self.is_workday else _("休息")
        return f"{self.date} {kind} {self.name}"


class WorkerHeartbeat(models.Model):
    """When a background worker last finished a pass: written by the worker after each
    pass, read by the health check (/health/), which calls the worker stalled when it is
    older than settings.SLA_WORKER_STALE_AFTER.

    In the database rather than in Redis: a pass is work done on the database, so a beat
    here says that this work is being done (a worker that cannot reach the database
    cannot beat), and a Redis outage, which the worker survives, does not hide it."""

    worker = models.CharField(_("后台任务"), max_length=40, unique=True)
    beat_at = models.DateTimeField(_("最近一次完成"))
    passes = models.BigIntegerField(_("完成次数"), default=0)

    class Meta:
        verbose_name = _("后台任务心跳")
        verbose_name_plural = _("后台任务心跳")

    def __str__(self) -> str:
        return f"{self.worker} {self.beat_at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def beat(cls, worker: str, *, at: dt.datetime) -> None:
        """One finished pass of `worker` (several copies may beat at once)."""
        table = cls._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (worker, beat_at, passes) VALUES (%s, %s, 1) "
                "ON CONFLICT (worker) DO UPDATE "
                f"SET beat_at = GREATEST({table}.beat_at, EXCLUDED.beat_at), "
                f"passes = {table}.passes + 1",
                [worker, at],
            )


class RollupKind(models.TextChoices):
    RECEIVED = "r", "received"
    FILED = "f", "filed"
    DUE = "d", "due"


class RollupFigures(models.Model):
    """The case figures of one row of a rollup (EvaluationMonth and the tables after it):
    its kind (r received, f filed, d due) and the counts the triggers keep."""

    kind = models.CharField(max_length=1, choices=RollupKind.choices)
    n = models.IntegerField(default=0)  # cases
    late = models.IntegerField(default=0)  # f: filed late; d: not suspended, not on time
    suspended = models.IntegerField(default=0)
    closed = models.IntegerField(default=0)  # not suspended, closed
    on_time = models.IntegerField(default=0)  # of those, closed on time
    rework = models.IntegerField(default=0)
    extensions = models.IntegerField(default=0)

    class Meta:
        abstract = True


class EvaluationMonth(RollupFigures):
    """The evaluation's case figures per local month (dispatch.evaluation, "How the tables
    are computed" in docs/evaluation.md), kept by statement-level triggers on
    incidents_case (migration 0008) in the same transaction as every case write.

    One row per (kind, month, closed month, district, street, community, unit, urgent):
    kind r counts the cases received (created) in `month`, f those filed in it, d those
    due in it; the area and unit columns are the case's own (ids, no foreign keys)."""

    month = models.DateField()  # the first day of a local month
    # d: the month the case was closed in (not suspended and closed), else NULL.
    closed_month = models.DateField(null=True)
    district_id = models.BigIntegerField(null=True)
    street_id = models.BigIntegerField(null=True)
    community_id = models.BigIntegerField(null=True)
    unit_id = models.BigIntegerField(null=True)
    urgent = models.BooleanField()

    class Meta:
        db_table = "dispatch_evaluation_month"
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "kind", "month", "closed_month", "district_id", "street_id",
                    "community_id", "unit_id", "urgent",
                ],
                name="dispatch_evaluation_month_key",
                nulls_distinct=False,
            )
        ]  # fmt: skip
        # A month of the city, a district's months (migration 0009).
        indexes = [
            models.Index(fields=["month"], name="dispatch_evaluation_month_m"),
            models.Index(fields=["district_id", "month"], name="dispatch_evaluation_month_dm"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.month:%Y-%m}"


class EvaluationCell(models.Model):
    """Per local month, cell and unit, how many times the cases count in some figure of
    the evaluation in that month (received, filed, due: dispatch.evaluation
    _in_some_figure), kept by statement-level triggers on incidents_case (migration 0010)
    in the same transaction as every case write. n > 0: the cell has a row in the month's
    per-cell table (dispatch.evaluation.cell_page). Ids, no foreign keys."""

    month = models.DateField()  # the first day of a local month
    cell_id = models.BigIntegerField()
    unit_id = models.BigIntegerField(null=True)
    n = models.IntegerField(default=0)

    class Meta:
        db_table = "dispatch_evaluation_cell"
        constraints = [
            models.UniqueConstraint(
                fields=["month", "cell_id", "unit_id"],
                name="dispatch_evaluation_cell_key",
                nulls_distinct=False,
            )
        ]
        # The cells with n > 0 by an index-only scan, in cell order (migration 0011).
        indexes = [
            models.Index(
                fields=["cell_id", "month"],
                condition=models.Q(n__gt=0),
                name="dispatch_eval_cell_pos",
            )
        ]

    def __str__(self) -> str:
        return f"{self.cell_id} {self.month:%Y-%m}"


class EvaluationDay(RollupFigures):
    """The evaluation's case figures per local day, unit and urgency, kept by
    statement-level triggers on incidents_case (migration 0011) like EvaluationMonth,
    whose columns and kinds it has, by day instead of month and without the area columns:
    the sums (合计) of the city's and a department's per-cell page
    (dispatch.evaluation.day_sums) for any days, not only whole months."""

    day = models.DateField()  # a local day
    # d: the day the case was closed on (not suspended and closed), else NULL.
    closed_day = models.DateField(null=True)
    unit_id = models.BigIntegerField(null=True)
    urgent = models.BooleanField()

    class Meta:
        db_table = "dispatch_evaluation_day"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "kind", "closed_day", "unit_id", "urgent"],
                name="dispatch_evaluation_day_key",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.day}"


class EvaluationDayTotal(RollupFigures):
    """EvaluationDay without the unit: the city's figures per local day and urgency
    (migration 0012, the same triggers' pattern). With a unit per street or more, the
    daily rollup holds ~800,000 rows a year at 1,000,000 cases; this table ~50 a day.
    The city's sums (合计) of its per-cell page (dispatch.evaluation.day_sums)."""

    day = models.DateField()  # a local day
    # d: the day the case was closed on (not suspended and closed), else NULL.
    closed_day = models.DateField(null=True)
    urgent = models.BooleanField()

    class Meta:
        db_table = "dispatch_evaluation_day_total"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "kind", "closed_day", "urgent"],
                name="dispatch_evaluation_day_total_key",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.day}"


class EvaluationCellDay(models.Model):
    """EvaluationCell by local day (migration 0011, the same triggers' pattern): n > 0,
    the cell has a row in the per-cell table of that day. The days of a period outside
    its whole months (dispatch.evaluation.cell_page)."""

    day = models.DateField()  # a local day
    cell_id = models.BigIntegerField()
    unit_id = models.BigIntegerField(null=True)
    n = models.IntegerField(default=0)

    class Meta:
        db_table = "dispatch_evaluation_cell_day"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "cell_id", "unit_id"],
                name="dispatch_evaluation_cell_day_key",
                nulls_distinct=False,
            )
        ]
        # The cells with n > 0 of a period's days by an index-only scan.
        indexes = [
            models.Index(
                fields=["day", "cell_id"],
                condition=models.Q(n__gt=0),
                name="dispatch_eval_cell_day_pos",
            )
        ]

    def __str__(self) -> str:
        return f"{self.cell_id} {self.day}"


class EvaluationCellMonth(RollupFigures):
    """The figures of EvaluationMonth per local month, cell, unit and urgency (migration
    0011, the same triggers' pattern): the whole months of the page's cells of the
    city's and a department's per-cell table (dispatch.evaluation.cell_page), the days
    beside them from the cases, as case_groups does with the monthly rollup."""

    month = models.DateField()  # the first day of a local month
    # d: the month the case was closed in (not suspended and closed), else NULL.
    closed_month = models.DateField(null=True)
    cell_id = models.BigIntegerField()
    unit_id = models.BigIntegerField(null=True)
    urgent = models.BooleanField()

    class Meta:
        db_table = "dispatch_evaluation_cell_month"
        # Leading cell_id: a page's cells (cell_id IN …) and the months.
        constraints = [
            models.UniqueConstraint(
                fields=["cell_id", "month", "kind", "closed_month", "unit_id", "urgent"],
                name="dispatch_evaluation_cell_month_key",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.cell_id} {self.month:%Y-%m}"
