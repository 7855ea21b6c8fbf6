"""Indexes for the evaluation of a street or district from the monthly rollup
(dispatch.evaluation.case_groups): the rollup's rows of a month (the city) and of a
district's months, and a district's cases filed or due on the days at the period's edges
(its cases received then: analysis_case_district_created). Without them the rollup was
read whole and the edges' filed and due cases of the whole city visited and filtered
(district month: 49 + 141 ms, with them 6 + 46 ms at 1,000,000 cases)."""

from django.db import migrations, models

COLUMNS = {"dispatch_case_district_filed": "filed_at", "dispatch_case_district_due": "due_at"}
CREATE = [
    f"CREATE INDEX IF NOT EXISTS {name} ON incidents_case (district_id, {column})"
    for name, column in COLUMNS.items()
]
DROP = [f"DROP INDEX IF EXISTS {name}" for name in COLUMNS]


class Migration(migrations.Migration):
    dependencies = [
        ("dispatch", "0008_evaluation_rollup"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="evaluationmonth",
            index=models.Index(fields=["month"], name="dispatch_evaluation_month_m"),
        ),
        migrations.AddIndex(
            model_name="evaluationmonth",
            index=models.Index(
                fields=["district_id", "month"], name="dispatch_evaluation_month_dm"
            ),
        ),
        migrations.RunSQL(tuple(CREATE), tuple(DROP)),
    ]
