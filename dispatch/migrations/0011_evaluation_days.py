"""Three tables for the city's and a department's per-cell page
(dispatch.evaluation.cell_page), kept like the monthly ones (0008, 0010) by
statement-level triggers on incidents_case in the same transaction as every case write
(a statement's new rows +1, its old rows -1, grouped, in a fixed key order; the days local
in settings.TIME_ZONE when this migration ran):

- dispatch_evaluation_day (dispatch.models.EvaluationDay): the figures of the monthly
  rollup per local day, unit and urgency (no area columns; closings by the day closed):
  the page's sums (合计) for any days, where the monthly rollup served whole months only
  and the days beside them were aggregated from the cases;
- dispatch_evaluation_cell_day (dispatch.models.EvaluationCellDay): the month x cell
  table of 0010 per local day: the cells of a period without a whole month, where the
  cases of its days were scanned;
- dispatch_evaluation_cell_month (dispatch.models.EvaluationCellMonth): the monthly
  rollup's figures per local month, cell, unit and urgency: the figures of the page's
  cells for the whole months, where their cases were aggregated; with indexes on the
  cases' (cell_id, filed_at), (cell_id, due_at), (cell_id, closed_at) for the days
  beside them.

The cells with n > 0 of the month x cell and day x cell tables are read by index-only
scans of partial indexes (n in their predicate: the triggers' updates of n are not HOT).
"""

from django.conf import settings
from django.db import migrations, models

TZ = settings.TIME_ZONE.replace("'", "")


def _day(column: str) -> str:
    return f"date_trunc('day', {column} AT TIME ZONE '{TZ}')::date"


FIGURES = ("n", "late", "suspended", "closed", "on_time", "rework", "extensions")


def _figures(table: str, grain: str, place: str, key: str) -> tuple[str, str]:
    """The upsert into `table` (unique on `key`) and the figures of the case rows in
    {rows}, each multiplied by {sign}, as 0008's (kinds received, filed, due; closings
    by when closed) by `grain` (day or month) and the columns `place`."""
    def at(column: str) -> str:
        return f"date_trunc('{grain}', {column} AT TIME ZONE '{TZ}')::date"

    part = f"""
SELECT {at("created_at")} AS {grain}, 'r' AS kind, NULL::date AS closed_{grain}, {place},
       {{sign}} AS n, 0 AS late, 0 AS suspended, 0 AS closed, 0 AS on_time, 0 AS rework,
       0 AS extensions
FROM {{rows}} WHERE parent_id IS NULL
UNION ALL
SELECT {at("filed_at")}, 'f', NULL, {place}, {{sign}},
       CASE WHEN filed_at > file_due_at THEN {{sign}} ELSE 0 END, 0, 0, 0, 0, 0
FROM {{rows}} WHERE parent_id IS NULL AND filed_at IS NOT NULL
UNION ALL
SELECT {at("due_at")}, 'd',
       CASE WHEN NOT suspended AND closed_at IS NOT NULL THEN {at("closed_at")} END,
       {place}, {{sign}},
       CASE WHEN NOT suspended AND closed_on_time IS NOT TRUE THEN {{sign}} ELSE 0 END,
       CASE WHEN suspended THEN {{sign}} ELSE 0 END,
       CASE WHEN NOT suspended AND closed_at IS NOT NULL THEN {{sign}} ELSE 0 END,
       CASE WHEN NOT suspended AND closed_at IS NOT NULL AND closed_on_time
            THEN {{sign}} ELSE 0 END,
       {{sign}} * reworks, {{sign}} * extensions
FROM {{rows}}
WHERE dispatched_at IS NOT NULL AND due_at IS NOT NULL AND state NOT IN ('cancelled', 'merged')
"""
    upsert = f"""
INSERT INTO {table} AS e ({key}, {", ".join(FIGURES)})
SELECT {key}, {", ".join(f"sum({f})" for f in FIGURES)}
FROM ({{parts}}) AS c
GROUP BY {key}
HAVING {" OR ".join(f"sum({f}) <> 0" for f in FIGURES)}
ORDER BY {key}
ON CONFLICT ({key}) DO UPDATE SET
    {", ".join(f"{f} = e.{f} + EXCLUDED.{f}" for f in FIGURES)}
"""
    return upsert, part


DAY_UPSERT, DAY_PART = _figures(
    "dispatch_evaluation_day", "day", "unit_id, urgent", "day, kind, closed_day, unit_id, urgent"
)
CELL_MONTH_UPSERT, CELL_MONTH_PART = _figures(
    "dispatch_evaluation_cell_month",
    "month",
    "cell_id, unit_id, urgent",
    "cell_id, month, kind, closed_month, unit_id, urgent",
)

# The days each case row of {rows} counts in (received or filed, not a split child; or
# due), as 0010's months: day, cell_id, unit_id, n.
CELL_PART = f"""
SELECT {_day("created_at")} AS day, cell_id, unit_id, {{sign}} AS n
FROM {{rows}} WHERE parent_id IS NULL
UNION ALL
SELECT {_day("filed_at")}, cell_id, unit_id, {{sign}}
FROM {{rows}} WHERE parent_id IS NULL AND filed_at IS NOT NULL
UNION ALL
SELECT {_day("due_at")}, cell_id, unit_id, {{sign}}
FROM {{rows}}
WHERE dispatched_at IS NOT NULL AND due_at IS NOT NULL AND state NOT IN ('cancelled', 'merged')
"""
CELL_KEY = "day, cell_id, unit_id"
CELL_UPSERT = f"""
INSERT INTO dispatch_evaluation_cell_day AS e ({CELL_KEY}, n)
SELECT {CELL_KEY}, sum(n) FROM ({{parts}}) AS c
GROUP BY {CELL_KEY}
HAVING sum(n) <> 0
ORDER BY {CELL_KEY}
ON CONFLICT ({CELL_KEY}) DO UPDATE SET n = e.n + EXCLUDED.n
"""


def _statements(upsert: str, part: str) -> dict[str, str]:
    """The upserts of a statement's new rows, its old rows, both, and the backfill."""
    old, new = part.format(sign=-1, rows="old_rows"), part.format(sign=1, rows="new_rows")
    return {
        "added": upsert.format(parts=new),
        "removed": upsert.format(parts=old),
        "changed": upsert.format(parts=f"{old} UNION ALL {new}"),
        "backfill": upsert.format(parts=part.format(sign=1, rows="incidents_case")),
    }


TABLES = {
    "dispatch_evaluation_day": _statements(DAY_UPSERT, DAY_PART),
    "dispatch_evaluation_cell_day": _statements(CELL_UPSERT, CELL_PART),
    "dispatch_evaluation_cell_month": _statements(CELL_MONTH_UPSERT, CELL_MONTH_PART),
}
# What the tests rebuild the tables with.
BACKFILL = {table: statements["backfill"] for table, statements in TABLES.items()}
EVENTS = {
    "insert": ("added", "REFERENCING NEW TABLE AS new_rows"),
    "delete": ("removed", "REFERENCING OLD TABLE AS old_rows"),
    "update": ("changed", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"),
}


def _function(name: str, body: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
{body};
RETURN NULL;
END $$
"""


CREATE: list[str] = []
DROP: list[str] = []
for table, statements in TABLES.items():
    for event, (change, transition) in EVENTS.items():
        CREATE += [
            _function(f"{table}_{change}", statements[change]),
            f"""CREATE TRIGGER {table}_{event} AFTER {event.upper()} ON incidents_case
                {transition}
                FOR EACH STATEMENT EXECUTE FUNCTION {table}_{change}()""",
        ]
        DROP += [
            f"DROP TRIGGER IF EXISTS {table}_{event} ON incidents_case",
            f"DROP FUNCTION IF EXISTS {table}_{change}()",
        ]
    CREATE += [
        _function(f"{table}_truncated", f"DELETE FROM {table}"),
        f"""CREATE TRIGGER {table}_truncate AFTER TRUNCATE ON incidents_case
            FOR EACH STATEMENT EXECUTE FUNCTION {table}_truncated()""",
        statements["backfill"],
    ]
    DROP += [
        f"DROP TRIGGER IF EXISTS {table}_truncate ON incidents_case",
        f"DROP FUNCTION IF EXISTS {table}_truncated()",
    ]


# The page's cells' cases filed, due or closed on the days beside the whole months (the
# received ones: analysis_case_cell_category): without them the city's cases of those
# days were visited and filtered by cell.
CELL_INDEXES = {
    "dispatch_case_cell_filed": "filed_at",
    "dispatch_case_cell_due": "due_at",
    "dispatch_case_cell_closed": "closed_at",
}
CREATE += [
    f"CREATE INDEX IF NOT EXISTS {name} ON incidents_case (cell_id, {column})"
    for name, column in CELL_INDEXES.items()
]
DROP += [f"DROP INDEX IF EXISTS {name}" for name in CELL_INDEXES]


class Migration(migrations.Migration):
    dependencies = [
        ("dispatch", "0010_evaluation_cells"),
    ]

    operations = [
        migrations.CreateModel(
            name="EvaluationDay",
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
                "db_table": "dispatch_evaluation_day",
            },
        ),
        migrations.CreateModel(
            name="EvaluationCellDay",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("cell_id", models.BigIntegerField()),
                ("unit_id", models.BigIntegerField(null=True)),
                ("n", models.IntegerField(default=0)),
            ],
            options={
                "db_table": "dispatch_evaluation_cell_day",
            },
        ),
        migrations.CreateModel(
            name="EvaluationCellMonth",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("month", models.DateField()),
                (
                    "kind",
                    models.CharField(
                        choices=[("r", "received"), ("f", "filed"), ("d", "due")], max_length=1
                    ),
                ),
                ("closed_month", models.DateField(null=True)),
                ("cell_id", models.BigIntegerField()),
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
                "db_table": "dispatch_evaluation_cell_month",
            },
        ),
        migrations.AddConstraint(
            model_name="evaluationcellmonth",
            constraint=models.UniqueConstraint(
                fields=("cell_id", "month", "kind", "closed_month", "unit_id", "urgent"),
                name="dispatch_evaluation_cell_month_key",
                nulls_distinct=False,
            ),
        ),
        # Before the backfill: its ON CONFLICT needs them.
        migrations.AddConstraint(
            model_name="evaluationday",
            constraint=models.UniqueConstraint(
                fields=("day", "kind", "closed_day", "unit_id", "urgent"),
                name="dispatch_evaluation_day_key",
                nulls_distinct=False,
            ),
        ),
        migrations.AddConstraint(
            model_name="evaluationcellday",
            constraint=models.UniqueConstraint(
                fields=("day", "cell_id", "unit_id"),
                name="dispatch_evaluation_cell_day_key",
                nulls_distinct=False,
            ),
        ),
        migrations.AddIndex(
            model_name="evaluationcell",
            index=models.Index(
                condition=models.Q(("n__gt", 0)),
                fields=["cell_id", "month"],
                name="dispatch_eval_cell_pos",
            ),
        ),
        migrations.AddIndex(
            model_name="evaluationcellday",
            index=models.Index(
                condition=models.Q(("n__gt", 0)),
                fields=["day", "cell_id"],
                name="dispatch_eval_cell_day_pos",
            ),
        ),
        migrations.RunSQL(tuple(CREATE), tuple(DROP)),
    ]
