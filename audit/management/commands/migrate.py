"""`manage.py migrate` runs as the owner role when there is one (audit/roles.py): the
application's role may not change the schema. `--database` still chooses; data
migrations read and write through the same alias (audit/routers.py).

Before anything is applied, the role it connects as must be able to migrate: own the
tables already there (or be a member of their owner), or, on an empty database, create
tables in its schema. Otherwise it stops at once and says which role to migrate as,
instead of failing with PostgreSQL's "permission denied" halfway through the plan
(docs/deployment.md, "Database roles")."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError
from django.core.management.commands import migrate
from django.db import DEFAULT_DB_ALIAS, connections

from audit.roles import owner_alias
from audit.routers import migrating

ROLE_QUERY = """
SELECT current_user, current_database(), current_schema(),
       pg_get_userbyid(d.datdba),
       has_schema_privilege(current_schema(), 'CREATE'),
       pg_get_userbyid(t.relowner),
       t.relowner IS NULL OR pg_has_role(t.relowner, 'MEMBER')
FROM pg_database d
LEFT JOIN pg_class t ON t.oid = to_regclass('django_migrations')
WHERE d.datname = current_database()
"""


def migration_refusal(alias: str) -> str | None:
    """Why the role of `alias` cannot run the migrations, or None if it can."""
    with connections[alias].cursor() as cursor:
        cursor.execute(ROLE_QUERY)
        role, database, schema, database_owner, may_create, tables_owner, owns_tables = (
            cursor.fetchone()
        )
    hint = (
        "Migrations run as the role that owns the schema: set DATABASE_OWNER_URL to it "
        "(with DATABASE_URL naming the application's role), or create the database "
        f"OWNER that role (docs/deployment.md, 'Database roles'). Database {database!r} "
        f"is owned by {database_owner!r}."
    )
    if tables_owner is not None and not owns_tables:
        return (
            f"migrate connects as {role!r}, but the tables of database {database!r} belong "
            f"to {tables_owner!r}: {role!r} could not alter them. {hint}"
        )
    if tables_owner is None and not may_create:
        return (
            f"migrate connects as {role!r}, which may not create tables in schema "
            f"{schema!r} of the empty database {database!r}. {hint}"
        )
    return None


class Command(migrate.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        if options["database"] == DEFAULT_DB_ALIAS:
            options["database"] = owner_alias()
        if (refusal := migration_refusal(options["database"])) is not None:
            raise CommandError(refusal)
        token = migrating.set(options["database"])
        try:
            super().handle(*args, **options)
        finally:
            migrating.reset(token)
