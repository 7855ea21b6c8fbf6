"""The rollups a new case adds to in rows it shares with every other report, kept
without a shared lock: dispatch_evaluation_day and dispatch_evaluation_day_total (one row
for the whole city: today, received), dispatch_evaluation_month (one per community).

Their triggers (0008, 0011, 0012) added to those rows with INSERT … ON CONFLICT DO
UPDATE, in the case's own transaction: the row stayed locked until the case committed,
fsync included, so every report in the city was written after the one before
(docs/performance.md, "Where a report waits"). Now the triggers append the same grouped
figures to a log beside each table (`<table>_log`: the table's key and figures, no
unique key, so no writer waits for another), and `dispatch_evaluation_fold()` moves the
log into the table in one short statement per table (DELETE … RETURNING into the same
upsert as before). Readers fold before they read (dispatch.evaluation.fold_rollups), and
the SLA worker folds on every pass, so the tables read are what they were: exact.

`log_operations` is used by analysis 0006 for analysis_daily.
"""

import importlib
import re

from django.db import migrations

month = importlib.import_module("dispatch.migrations.0008_evaluation_rollup")
days = importlib.import_module("dispatch.migrations.0011_evaluation_days")
total = importlib.import_module("dispatch.migrations.0012_evaluation_day_total")

_HEAD = re.compile(r"\s*INSERT INTO (\w+) AS \w+\s*\(([^)]*)\)")


def as_log(upsert: str) -> tuple[str, str, str, str]:
    """From an upsert template of the rollups (with `{parts}`): its table, its columns,
    the log's INSERT (the same grouped figures, no ON CONFLICT) and the fold (the log's
    rows moved through the upsert itself)."""
    head = _HEAD.match(upsert)
    assert head is not None and "\nORDER BY " in upsert, upsert
    table, columns = head.group(1), head.group(2)
    grouped = upsert[head.end() : upsert.index("\nORDER BY ")]
    log = f"INSERT INTO {table}_log ({columns}){grouped}"
    fold = f"WITH moved AS (DELETE FROM {table}_log RETURNING {columns}) " + upsert.format(
        parts=f"SELECT {columns} FROM moved"
    )
    return table, columns, log, fold


_function = days._function  # a trigger function of one statement


def log_operations(
    rollups: list[tuple[str, str, str]], fold_function: str
) -> tuple[list[str], list[str]]:
    """The statements that move the rollups (the prefix of their trigger functions, the
    upsert template, the part template with {sign} and {rows}) to logs and make
    `fold_function`; and those that move them back."""
    create, drop, folds = [], [], []
    for prefix, upsert, part in rollups:
        table, columns, log, fold = as_log(upsert)
        old, new = part.format(sign=-1, rows="old_rows"), part.format(sign=1, rows="new_rows")
        create += [
            f"CREATE TABLE {table}_log AS SELECT {columns} FROM {table} WITH NO DATA",
            _function(f"{prefix}_added", log.format(parts=new)),
            _function(f"{prefix}_removed", log.format(parts=old)),
            _function(f"{prefix}_changed", log.format(parts=f"{old} UNION ALL {new}")),
            _function(f"{prefix}_truncated", f"DELETE FROM {table}; DELETE FROM {table}_log"),
        ]
        folds.append(fold)
        drop += [
            _function(f"{prefix}_added", upsert.format(parts=new)),
            _function(f"{prefix}_removed", upsert.format(parts=old)),
            _function(f"{prefix}_changed", upsert.format(parts=f"{old} UNION ALL {new}")),
            _function(f"{prefix}_truncated", f"DELETE FROM {table}"),
            f"DROP TABLE {table}_log",
        ]
    body = ";\n".join(folds)
    create.append(
        f"CREATE FUNCTION {fold_function}() RETURNS void LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{body};\nEND $$"
    )
    # Back: what the logs hold goes into the tables first.
    drop = [f"SELECT {fold_function}()", f"DROP FUNCTION {fold_function}()", *drop]
    return create, drop


CREATE, DROP = log_operations(
    [
        ("dispatch_evaluation", month.UPSERT, month.PART),
        ("dispatch_evaluation_day", days.DAY_UPSERT, days.DAY_PART),
        ("dispatch_evaluation_day_total", total.UPSERT, total.PART),
    ],
    "dispatch_evaluation_fold",
)


class Migration(migrations.Migration):
    dependencies = [
        ("dispatch", "0012_evaluation_day_total"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
