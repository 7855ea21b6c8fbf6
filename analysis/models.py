"""Daily counts of cases (analysis_daily): what the trends and the per-district views of
decision analysis read instead of the cases at city scale (docs/analysis.md).

One row per local day (Asia/Shanghai) × district × category:
    received        cases reported (created_at) that day
    due             cases due (due_at) that day: dispatched, not cancelled or merged
    due_suspended   of those, suspended at some time (曾缓办): left out of the rates
    due_closed      of those not suspended, closed by now
    due_on_time     of those not suspended, closed on time

The rows are kept by triggers on incidents_case (analysis/migrations/0002), in the
same transaction as the case's change: every writer of cases — the services, the
simulator, a bulk load — keeps them right without knowing of them. At ~2,000 cases a
day over 11 districts × ~40 categories a year is ~150,000 rows instead of 730,000
cases; per cell or per street the days are too sparse to compress (measured,
docs/performance.md), so the per-cell views read the cases.
"""

from __future__ import annotations

from django.db import models


class DailyCount(models.Model):
    day = models.DateField()
    # Plain ids, no foreign keys: the triggers write these rows on every case change and
    # a key check per write buys nothing (the ids come from a case that has them).
    district_id = models.BigIntegerField()
    category_id = models.BigIntegerField()
    received = models.IntegerField(default=0)
    due = models.IntegerField(default=0)
    due_suspended = models.IntegerField(default=0)
    due_closed = models.IntegerField(default=0)
    due_on_time = models.IntegerField(default=0)

    class Meta:
        db_table = "analysis_daily"
        constraints = [
            models.UniqueConstraint(
                fields=["day", "district_id", "category_id"], name="analysis_daily_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.district_id} {self.category_id}"
