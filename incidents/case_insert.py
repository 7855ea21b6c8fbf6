"""A new case's INSERT with its text made once per process, not compiled per save.

Model.save() compiles a new case's INSERT anew every time: for each of its ~70 columns
the value is checked for an expression and a placeholder, the field's placeholder asked
for, the statement's text assembled. That was the largest single piece of a report's CPU
(docs/performance.md, "Intake"). insert() writes the same row: the columns of
Model.save()'s INSERT in its order, each value through the field's pre_save() and
get_db_prep_save() and its placeholder (the geometry's) as the ORM does them, the pk read
back, the same pre_save/post_save signals and the same state of the instance after (Case
has no save() of its own to pass by: tests/test_case_insert.py checks that too); only
the text is kept, per pattern of NULL values. It runs on a kept cursor
(layers.kept_statements): its values bound on the server, so PostgreSQL keeps it
prepared on a pooled connection instead of parsing and planning ~70 columns per report.

A value that is None is written as NULL in the text, not as a parameter. psycopg keeps
a statement's parsed form (its placeholders split out) only for statements of at most
50 parameters (MAX_CACHED_STATEMENT_PARAMS in psycopg/_queries.py, a constant, not a
setting; prepare_threshold and prepared_max are about the server's prepared statements
and do not change it): with all 69 columns as parameters the INSERT was split anew on
every report. A new report has ~28 NULL columns, so ~41 parameters.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.db import connection, transaction
from django.db.models.signals import post_save, pre_save

from incidents.models import Case
from layers.kept_statements import kept_cursor

_meta = Case._meta
# What Model.save() inserts for an instance without a pk: the local concrete columns, not
# the auto pk nor a generated column, in this order; then it reads back the returning ones.
_FIELDS = [f for f in _meta.local_concrete_fields if not f.generated and f is not _meta.auto_field]
_RETURNING = _meta.db_returning_fields
# A field's own placeholder, if it has one (the geometry: a transform when the value is in
# another SRID), as the ORM asks it per value; else "%s".
_PLACEHOLDERS = [getattr(f, "get_placeholder", None) for f in _FIELDS]


def insert(case: Case) -> None:
    """INSERT `case` (not saved yet) as case.save() would, inside the caller's
    transaction; an error (a duplicate client_uuid) marks it for rollback as save() does.
    Its values are plain ones (no F() or other expression, which the ORM compiles)."""
    assert case._state.adding and case.pk is None, "insert() is for a new case"
    using = connection.alias
    pre_save.send(sender=Case, instance=case, raw=False, using=using, update_fields=None)
    values = [f.get_db_prep_save(f.pre_save(case, True), connection) for f in _FIELDS]
    placeholders = tuple(
        "NULL" if value is None else "%s" if own is None else own(value, None, connection)
        for own, value in zip(_PLACEHOLDERS, values, strict=True)
    )
    with transaction.mark_for_rollback_on_error(using), kept_cursor() as cursor:
        cursor.execute(_statement(placeholders), [v for v in values if v is not None])
        row = cursor.fetchone()
    for field, value in zip(_RETURNING, row, strict=True):
        setattr(case, field.attname, value)
    case._state.db = using
    case._state.adding = False
    post_save.send(
        sender=Case, instance=case, created=True, update_fields=None, raw=False, using=using
    )


@lru_cache(maxsize=64)  # a handful of NULL patterns occur (reports, tickets)
def _statement(placeholders: tuple[str, ...]) -> str:
    def names(fields: list[Any]) -> str:
        return ", ".join(connection.ops.quote_name(f.column) for f in fields)

    columns, returning = names(_FIELDS), names(_RETURNING)
    return (
        f"INSERT INTO {connection.ops.quote_name(_meta.db_table)} ({columns}) "
        f"VALUES ({', '.join(placeholders)}) RETURNING {returning}"
    )
