"""dispatch_evaluation_cell (dispatch.models.EvaluationCell): per local month, cell and
unit, how many times the cases count in some figure of the month (received or filed, not
a split child; or due: dispatched, not cancelled or merged), kept by statement-level
triggers on incidents_case in the same transaction as every case write, as 0008 keeps
the monthly rollup (its new rows +1, its old rows -1, grouped, in a fixed key order; the
months local in settings.TIME_ZONE when this migration ran). The per-cell page
(dispatch.evaluation.cell_page) reads the cells of a period's whole months from it
instead of scanning the cases of those months."""

from django.conf import settings
from django.db import migrations, models

TZ = settings.TIME_ZONE.replace("'", "")


def _month(column: str) -> str:
    return f"date_trunc('month', {column} AT TIME ZONE '{TZ}')::date"


# The months each case row of {rows} counts in, with {sign}: the columns month, cell_id,
# unit_id, n.
PART = f"""
SELECT {_month("created_at")} AS month, cell_id, unit_id, {{sign}} AS n
FROM {{rows}} WHERE parent_id IS NULL
UNION ALL
SELECT {_month("filed_at")}, cell_id, unit_id, {{sign}}
FROM {{rows}} WHERE parent_id IS NULL AND filed_at IS NOT NULL
UNION ALL
SELECT {_month("due_at")}, cell_id, unit_id, {{sign}}
FROM {{rows}}
WHERE dispatched_at IS NOT NULL AND due_at IS NOT NULL AND state NOT IN ('cancelled', 'merged')
"""

KEY = "month, cell_id, unit_id"
UPSERT = f"""
INSERT INTO dispatch_evaluation_cell AS e ({KEY}, n)
SELECT {KEY}, sum(n) FROM ({{parts}}) AS c
GROUP BY {KEY}
HAVING sum(n) <> 0
ORDER BY {KEY}
ON CONFLICT ({KEY}) DO UPDATE SET n = e.n + EXCLUDED.n
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
    _function("dispatch_evaluation_cell_added", ADDED),
    _function("dispatch_evaluation_cell_removed", REMOVED),
    _function("dispatch_evaluation_cell_changed", CHANGED),
    _function("dispatch_evaluation_cell_truncated", "DELETE FROM dispatch_evaluation_cell"),
    """CREATE TRIGGER dispatch_evaluation_cell_insert AFTER INSERT ON incidents_case
       REFERENCING NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION dispatch_evaluation_cell_added()""",
    """CREATE TRIGGER dispatch_evaluation_cell_delete AFTER DELETE ON incidents_case
       REFERENCING OLD TABLE AS old_rows
       FOR EACH STATEMENT EXECUTE FUNCTION dispatch_evaluation_cell_removed()""",
    """CREATE TRIGGER dispatch_evaluation_cell_update AFTER UPDATE ON incidents_case
       REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION dispatch_evaluation_cell_changed()""",
    """CREATE TRIGGER dispatch_evaluation_cell_truncate AFTER TRUNCATE ON incidents_case
       FOR EACH STATEMENT EXECUTE FUNCTION dispatch_evaluation_cell_truncated()""",
    BACKFILL,
]
DROP = [
    "DROP TRIGGER IF EXISTS dispatch_evaluation_cell_insert ON incidents_case",
    "DROP TRIGGER IF EXISTS dispatch_evaluation_cell_delete ON incidents_case",
    "DROP TRIGGER IF EXISTS dispatch_evaluation_cell_update ON incidents_case",
    "DROP TRIGGER IF EXISTS dispatch_evaluation_cell_truncate ON incidents_case",
    "DROP FUNCTION IF EXISTS dispatch_evaluation_cell_added()",
    "DROP FUNCTION IF EXISTS dispatch_evaluation_cell_removed()",
    "DROP FUNCTION IF EXISTS dispatch_evaluation_cell_changed()",
    "DROP FUNCTION IF EXISTS dispatch_evaluation_cell_truncated()",
]


class Migration(migrations.Migration):
    dependencies = [
        ("dispatch", "0009_evaluation_area_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="EvaluationCell",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("month", models.DateField()),
                ("cell_id", models.BigIntegerField()),
                ("unit_id", models.BigIntegerField(null=True)),
                ("n", models.IntegerField(default=0)),
            ],
            options={
                "db_table": "dispatch_evaluation_cell",
            },
        ),
        migrations.AddConstraint(
            model_name="evaluationcell",
            constraint=models.UniqueConstraint(
                fields=("month", "cell_id", "unit_id"),
                name="dispatch_evaluation_cell_key",
                nulls_distinct=False,
            ),
        ),
        migrations.RunSQL(tuple(CREATE), tuple(DROP)),
    ]
