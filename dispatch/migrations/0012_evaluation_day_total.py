"""dispatch_evaluation_day_total (dispatch.models.EvaluationDayTotal): the daily rollup of
0011 (dispatch_evaluation_day) without the unit, kept by the same statement-level
triggers' pattern on incidents_case: the city's sums (合计) of its per-cell page. With a
unit per street the daily rollup holds ~800,000 rows a year at 1,000,000 cases, and
their sum cost ~210 ms; without the unit ~50 rows a day.
"""

import importlib

from django.db import migrations, models

# The statements of 0011's daily rollup, by day and urgency only.
days = importlib.import_module("dispatch.migrations.0011_evaluation_days")
TABLE = "dispatch_evaluation_day_total"
UPSERT, PART = days._figures(TABLE, "day", "urgent", "day, kind, closed_day, urgent")
STATEMENTS = days._statements(UPSERT, PART)
# What the tests rebuild the table with.
BACKFILL = {TABLE: STATEMENTS["backfill"]}

CREATE: list[str] = []
DROP: list[str] = []
for event, (change, transition) in days.EVENTS.items():
    CREATE += [
        days._function(f"{TABLE}_{change}", STATEMENTS[change]),
        f"""CREATE TRIGGER {TABLE}_{event} AFTER {event.upper()} ON incidents_case
            {transition}
            FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_{change}()""",
    ]
    DROP += [
        f"DROP TRIGGER IF EXISTS {TABLE}_{event} ON incidents_case",
        f"DROP FUNCTION IF EXISTS {TABLE}_{change}()",
    ]
CREATE += [
    days._function(f"{TABLE}_truncated", f"DELETE FROM {TABLE}"),
    f"""CREATE TRIGGER {TABLE}_truncate AFTER TRUNCATE ON incidents_case
        FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_truncated()""",
    STATEMENTS["backfill"],
]
DROP += [
    f"DROP TRIGGER IF EXISTS {TABLE}_truncate ON incidents_case",
    f"DROP FUNCTION IF EXISTS {TABLE}_truncated()",
]


class Migration(migrations.Migration):
    dependencies = [
        ("dispatch", "0011_evaluation_days"),
    ]

    operations = [
        migrations.CreateModel(
            name="EvaluationDayTotal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                (
                    "kind",
                    models.CharField(
                        choices=[("r", "received"), ("f", "filed"), ("d", "due")], max_length=1
                    ),
                ),
                ("closed_day", models.DateField(null=True)),
                ("urgent", models.BooleanField()),
                ("n", models.IntegerField(default=0)),
                ("late", models.IntegerField(default=0)),
                ("suspended", models.IntegerField(default=0)),
                ("closed", models.IntegerField(default=0)),
                ("on_time", models.IntegerField(default=0)),
                ("rework", models.IntegerField(default=0)),
                ("extensions", models.IntegerField(default=0)),
            ],
            options={
                "db_table": "dispatch_evaluation_day_total",
            },
        ),
        # Before the backfill: its ON CONFLICT needs it (in CreateModel's options it is
        # deferred to the migration's end).
        migrations.AddConstraint(
            model_name="evaluationdaytotal",
            constraint=models.UniqueConstraint(
                fields=("day", "kind", "closed_day", "urgent"),
                name="dispatch_evaluation_day_total_key",
                nulls_distinct=False,
            ),
        ),
        migrations.RunSQL(tuple(CREATE), tuple(DROP)),
    ]
