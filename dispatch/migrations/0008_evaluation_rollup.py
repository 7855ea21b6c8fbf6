"""dispatch_evaluation_month (dispatch.models.EvaluationMonth) and the triggers on
incidents_case that keep it, the pattern of analysis 0002: after every INSERT, UPDATE or
DELETE statement on the cases, one INSERT … ON CONFLICT adds what the statement changed
(its new rows +1, its old rows -1, grouped; groups whose sums are all 0 are not written),
in a fixed key order so that concurrent writers lock rows in the same order. Each case
gives up to three rows: received (created) in a month, filed in a month, due in a month
(with the month it was closed in). The months are local (settings.TIME_ZONE when this
migration ran). Also an index on incidents_case.closed_at (the closings in the period's
last month are read from the cases) and one on the history's (action, at) (the 12345
figures read the replies of the period)."""

from django.conf import settings
from django.db import migrations, models

TZ = settings.TIME_ZONE.replace("'", "")


def _month(column: str) -> str:
    return f"date_trunc('month', {column} AT TIME ZONE '{TZ}')::date"


PLACE = "district_id, street_id, community_id, unit_id, urgent"
# The contributions of the case rows in {rows}, each multiplied by {sign}; the columns:
# kind, month, closed_month, PLACE, n, late, suspended, closed, on_time, rework, extensions.
PART = f"""
SELECT 'r' AS kind, {_month("created_at")} AS month, NULL::date AS closed_month, {PLACE},
       {{sign}} AS n, 0 AS late, 0 AS suspended, 0 AS closed, 0 AS on_time, 0 AS rework,
       0 AS extensions
FROM {{rows}} WHERE parent_id IS NULL
UNION ALL
SELECT 'f', {_month("filed_at")}, NULL, {PLACE}, {{sign}},
       CASE WHEN filed_at > file_due_at THEN {{sign}} ELSE 0 END, 0, 0, 0, 0, 0
FROM {{rows}} WHERE parent_id IS NULL AND filed_at IS NOT NULL
UNION ALL
SELECT 'd', {_month("due_at")},
       CASE WHEN NOT suspended AND closed_at IS NOT NULL THEN {_month("closed_at")} END,
       {PLACE}, {{sign}},
       CASE WHEN NOT suspended AND closed_on_time IS NOT TRUE THEN {{sign}} ELSE 0 END,
       CASE WHEN suspended THEN {{sign}} ELSE 0 END,
       CASE WHEN NOT suspended AND closed_at IS NOT NULL THEN {{sign}} ELSE 0 END,
       CASE WHEN NOT suspended AND closed_at IS NOT NULL AND closed_on_time
            THEN {{sign}} ELSE 0 END,
       {{sign}} * reworks, {{sign}} * extensions
FROM {{rows}}
WHERE dispatched_at IS NOT NULL AND due_at IS NOT NULL AND state NOT IN ('cancelled', 'merged')
"""

KEY = f"kind, month, closed_month, {PLACE}"
FIGURES = ("n", "late", "suspended", "closed", "on_time", "rework", "extensions")
UPSERT = f"""
INSERT INTO dispatch_evaluation_month AS e ({KEY}, {", ".join(FIGURES)})
SELECT {KEY}, {", ".join(f"sum({f})" for f in FIGURES)}
FROM ({{parts}}) AS c
GROUP BY {KEY}
HAVING {" OR ".join(f"sum({f}) <> 0" for f in FIGURES)}
ORDER BY {KEY}
ON CONFLICT ({KEY}) DO UPDATE SET
    {", ".join(f"{f} = e.{f} + EXCLUDED.{f}" for f in FIGURES)}
"""

ADDED = UPSERT.format(parts=PART.format(sign=1, rows="new_rows"))
REMOVED = UPSERT.format(parts=PART.format(sign=-1, rows="old_rows"))
CHANGED = UPSERT.format(
    parts=PART.format(sign=-1, rows="old_rows")
    + " UNION ALL "
    + PART.format(sign=1, rows="new_rows")
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
    _function("dispatch_evaluation_added", ADDED),
    _function("dispatch_evaluation_removed", REMOVED),
    _function("dispatch_evaluation_changed", CHANGED),
    _function("dispatch_evaluation_truncated", "DELETE FROM dispatch_evaluation_month"),
    """CREATE TRIGGER dispatch_evaluation_insert AFTER INSERT ON incidents_case
       REFERENCING NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION dispatch_evaluation_added()""",
    """CREATE TRIGGER dispatch_evaluation_delete AFTER DELETE ON incidents_case
       REFERENCING OLD TABLE AS old_rows
       FOR EACH STATEMENT EXECUTE FUNCTION dispatch_evaluation_removed()""",
    """CREATE TRIGGER dispatch_evaluation_update AFTER UPDATE ON incidents_case
       REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION dispatch_evaluation_changed()""",
    """CREATE TRIGGER dispatch_evaluation_truncate AFTER TRUNCATE ON incidents_case
       FOR EACH STATEMENT EXECUTE FUNCTION dispatch_evaluation_truncated()""",
    "CREATE INDEX IF NOT EXISTS dispatch_case_closed_at ON incidents_case (closed_at)",
    # The 12345 figures read the replies and supervisions of the period from the history.
    "CREATE INDEX IF NOT EXISTS dispatch_caseevent_action_at ON incidents_caseevent (action, at)",
    BACKFILL,
]
DROP = [
    "DROP TRIGGER IF EXISTS dispatch_evaluation_insert ON incidents_case",
    "DROP TRIGGER IF EXISTS dispatch_evaluation_delete ON incidents_case",
    "DROP TRIGGER IF EXISTS dispatch_evaluation_update ON incidents_case",
    "DROP TRIGGER IF EXISTS dispatch_evaluation_truncate ON incidents_case",
    "DROP FUNCTION IF EXISTS dispatch_evaluation_added()",
    "DROP FUNCTION IF EXISTS dispatch_evaluation_removed()",
    "DROP FUNCTION IF EXISTS dispatch_evaluation_changed()",
    "DROP FUNCTION IF EXISTS dispatch_evaluation_truncated()",
    "DROP INDEX IF EXISTS dispatch_case_closed_at",
    "DROP INDEX IF EXISTS dispatch_caseevent_action_at",
]


class Migration(migrations.Migration):
    dependencies = [
        ("dispatch", "0007_routing_stamp"),
        ("incidents", "0008_case_split"),
    ]

    operations = [
        migrations.CreateModel(
            name="EvaluationMonth",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[("r", "received"), ("f", "filed"), ("d", "due")], max_length=1
                    ),
                ),
                ("month", models.DateField()),
                ("closed_month", models.DateField(null=True)),
                ("district_id", models.BigIntegerField(null=True)),
                ("street_id", models.BigIntegerField(null=True)),
                ("community_id", models.BigIntegerField(null=True)),
                ("unit_id", models.BigIntegerField(null=True)),
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
                "db_table": "dispatch_evaluation_month",
            },
        ),
        # Not in CreateModel: its constraints are made at the end of the migration, after
        # the backfill's ON CONFLICT needs this one.
        migrations.AddConstraint(
            model_name="evaluationmonth",
            constraint=models.UniqueConstraint(
                fields=(
                    "kind",
                    "month",
                    "closed_month",
                    "district_id",
                    "street_id",
                    "community_id",
                    "unit_id",
                    "urgent",
                ),
                name="dispatch_evaluation_month_key",
                nulls_distinct=False,
            ),
        ),
        migrations.RunSQL(tuple(CREATE), tuple(DROP)),
    ]
