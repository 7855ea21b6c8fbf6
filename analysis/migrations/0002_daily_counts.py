"""analysis_daily (analysis.models.DailyCount) and the triggers on incidents_case that
keep it: after every INSERT, UPDATE or DELETE statement on the cases, one INSERT … ON
CONFLICT adds what the statement changed (its new rows counted +1, its old rows -1,
grouped; groups whose sums are all 0 are not written). Statement-level triggers with
transition tables: a bulk load of 1,000,000 cases is one grouped upsert, not 2,000,000,
and an update that touches no counted column (the SLA worker's warnings) writes nothing.
The key order is fixed (ORDER BY) so that two concurrent writers lock rows in the same
order. The local day is that of settings.TIME_ZONE when this migration ran."""

from django.conf import settings
from django.db import migrations, models

TZ = settings.TIME_ZONE.replace("'", "")

# The contributions of the case rows in {rows}, each multiplied by {sign}.
PART = f"""
SELECT (created_at AT TIME ZONE '{TZ}')::date AS day, district_id, category_id,
       {{sign}} AS received, 0 AS due, 0 AS due_suspended, 0 AS due_closed, 0 AS due_on_time
FROM {{rows}}
UNION ALL
SELECT (due_at AT TIME ZONE '{TZ}')::date, district_id, category_id, 0, {{sign}},
       CASE WHEN suspended THEN {{sign}} ELSE 0 END,
       CASE WHEN NOT suspended AND closed_at IS NOT NULL THEN {{sign}} ELSE 0 END,
       CASE WHEN NOT suspended AND closed_on_time THEN {{sign}} ELSE 0 END
FROM {{rows}}
WHERE due_at IS NOT NULL AND dispatched_at IS NOT NULL AND state NOT IN ('cancelled', 'merged')
"""

UPSERT = """
INSERT INTO analysis_daily AS d
    (day, district_id, category_id, received, due, due_suspended, due_closed, due_on_time)
SELECT day, district_id, category_id, sum(received), sum(due), sum(due_suspended),
       sum(due_closed), sum(due_on_time)
FROM ({parts}) AS c
GROUP BY day, district_id, category_id
HAVING sum(received) <> 0 OR sum(due) <> 0 OR sum(due_suspended) <> 0
    OR sum(due_closed) <> 0 OR sum(due_on_time) <> 0
ORDER BY day, district_id, category_id
ON CONFLICT (day, district_id, category_id) DO UPDATE SET
    received = d.received + EXCLUDED.received,
    due = d.due + EXCLUDED.due,
    due_suspended = d.due_suspended + EXCLUDED.due_suspended,
    due_closed = d.due_closed + EXCLUDED.due_closed,
    due_on_time = d.due_on_time + EXCLUDED.due_on_time
"""

ADDED = UPSERT.format(parts=PART.format(sign=1, rows="new_rows"))
REMOVED = UPSERT.format(parts=PART.format(sign=-1, rows="old_rows"))
CHANGED = UPSERT.format(
    parts=PART.format(sign=-1, rows="old_rows") + " UNION ALL " + PART.format(sign=1, rows="new_rows")
)
BACKFILL = UPSERT.format(parts=PART.format(sign=1, rows="incidents_case"))


def _function(name: str, body: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
{body};
RETURN NULL;
END $$
"""


CREATE = [
    _function("analysis_daily_added", ADDED),
    _function("analysis_daily_removed", REMOVED),
    _function("analysis_daily_changed", CHANGED),
    _function("analysis_daily_truncated", "DELETE FROM analysis_daily"),
    """CREATE TRIGGER analysis_daily_insert AFTER INSERT ON incidents_case
       REFERENCING NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION analysis_daily_added()""",
    """CREATE TRIGGER analysis_daily_delete AFTER DELETE ON incidents_case
       REFERENCING OLD TABLE AS old_rows
       FOR EACH STATEMENT EXECUTE FUNCTION analysis_daily_removed()""",
    """CREATE TRIGGER analysis_daily_update AFTER UPDATE ON incidents_case
       REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION analysis_daily_changed()""",
    """CREATE TRIGGER analysis_daily_truncate AFTER TRUNCATE ON incidents_case
       FOR EACH STATEMENT EXECUTE FUNCTION analysis_daily_truncated()""",
    "DELETE FROM analysis_daily",
    BACKFILL,
]
DROP = [
    "DROP TRIGGER IF EXISTS analysis_daily_insert ON incidents_case",
    "DROP TRIGGER IF EXISTS analysis_daily_delete ON incidents_case",
    "DROP TRIGGER IF EXISTS analysis_daily_update ON incidents_case",
    "DROP TRIGGER IF EXISTS analysis_daily_truncate ON incidents_case",
    "DROP FUNCTION IF EXISTS analysis_daily_added()",
    "DROP FUNCTION IF EXISTS analysis_daily_removed()",
    "DROP FUNCTION IF EXISTS analysis_daily_changed()",
    "DROP FUNCTION IF EXISTS analysis_daily_truncated()",
]


class Migration(migrations.Migration):
    dependencies = [
        ("analysis", "0001_case_created_cover"),
        ("incidents", "0005_filing_deadline"),
    ]

    operations = [
        migrations.CreateModel(
            name="DailyCount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("district_id", models.BigIntegerField()),
                ("category_id", models.BigIntegerField()),
                ("received", models.IntegerField(default=0)),
                ("due", models.IntegerField(default=0)),
                ("due_suspended", models.IntegerField(default=0)),
                ("due_closed", models.IntegerField(default=0)),
                ("due_on_time", models.IntegerField(default=0)),
            ],
            options={
                "db_table": "analysis_daily",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("day", "district_id", "category_id"), name="analysis_daily_key"
                    )
                ],
            },
        ),
        migrations.RunSQL(CREATE, DROP),
    ]
