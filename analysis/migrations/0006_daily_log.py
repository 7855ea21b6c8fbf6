"""analysis_daily kept without a shared lock, as dispatch 0013 does for the evaluation
rollups: a new case added to its (day, district, category) row in the case's own
transaction, so the district's reports of a category were written one after another. The
triggers append to `analysis_daily_log`; `analysis_daily_fold()` moves it into the table
(analysis.daily.fold, before every read, and the SLA worker on every pass)."""

import importlib

from django.db import migrations

daily = importlib.import_module("analysis.migrations.0002_daily_counts")
logs = importlib.import_module("dispatch.migrations.0013_rollup_logs")

CREATE, DROP = logs.log_operations(
    [("analysis_daily", daily.UPSERT, daily.PART)], "analysis_daily_fold"
)


class Migration(migrations.Migration):
    dependencies = [
        ("analysis", "0005_case_place_detail_cover"),
        ("dispatch", "0013_rollup_logs"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
