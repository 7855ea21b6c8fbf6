"""The application's database role cannot tamper with the evidence (MLPS level 3): it is
not the owner of the case history or the audit trail, may only read and add their rows,
and cannot truncate them, touch their triggers or grant itself more. Migrations ran as
the owner role, which applied these grants (audit/roles.py; tests/conftest.py creates the
test database the same way)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction

from audit.management.commands.migrate import migration_refusal
from audit.models import Action, AuditEvent, Outcome
from audit.roles import APP_OWNED_TABLES, PROTECTED_TABLES, apply_grants, separated
from dispatch.models import CalendarDay

ROOT = Path(__file__).resolve().parent.parent
HISTORY = "incidents_caseevent"
AUDIT = "audit_auditevent"
FIELDS = "stewardship_fieldchange"
TRIGGERS = {
    HISTORY: "incidents_caseevent_append_only",
    AUDIT: "audit_auditevent_append_only",
    FIELDS: "stewardship_fieldchange_append_only",
}
APP = settings.DATABASES["default"]["USER"]


def refused(statement: str, *, alias: str = "default") -> str:
    """Run `statement` as `alias`'s role; return PostgreSQL's refusal (fails if none)."""
    raises = pytest.raises(DatabaseError)
    with raises as refusal, transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(statement)
    return str(refusal.value)


def scalar(sql: str, params: list[Any] | None = None, *, alias: str = "default") -> Any:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def test_the_roles_are_separated_and_the_application_owns_no_evidence(db: None) -> None:
    assert separated()
    assert scalar("SELECT current_user") == APP
    for table in PROTECTED_TABLES:
        owner = scalar("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = %s", [table])
        assert owner == settings.DATABASES["owner"]["USER"] != APP
    for table in APP_OWNED_TABLES:
        owner = scalar("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = %s", [table])
        assert owner == APP, table


def test_data_migrations_wrote_into_the_database_they_migrated(db: None) -> None:
    # dispatch 0002 loads the public holidays through the default manager; migrated as
    # the owner, its rows must land here, not in the database of the `default` settings.
    assert CalendarDay.objects.filter(date=dt.date(2026, 10, 1), is_workday=False).exists()


@pytest.mark.parametrize("table", [HISTORY, AUDIT, FIELDS])
@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("UPDATE {table} SET id = id", "permission denied"),
        ("DELETE FROM {table}", "permission denied"),
        ("TRUNCATE {table}", "permission denied"),
        ("TRUNCATE {table} CASCADE", "permission denied"),
        ("ALTER TABLE {table} DISABLE TRIGGER ALL", "must be owner"),
        ("ALTER TABLE {table} DISABLE TRIGGER {trigger}", "must be owner"),
        ("DROP TRIGGER {trigger} ON {table}", "must be owner"),
        ("ALTER TABLE {table} OWNER TO CURRENT_USER", "must be owner"),
        ("DROP TABLE {table}", "must be owner"),
    ],
)
def test_the_application_cannot_change_or_remove_evidence(
    db: None, table: str, statement: str, message: str
) -> None:
    sql = statement.format(table=table, trigger=TRIGGERS[table])
    assert message in refused(sql)


@pytest.mark.parametrize("table", [HISTORY, AUDIT, FIELDS])
def test_the_application_cannot_grant_itself_more(db: None, table: str) -> None:
    with connection.cursor() as cursor:
        # PostgreSQL answers a grant by a role without the grant option with a warning.
        cursor.execute(f"GRANT UPDATE, DELETE, TRUNCATE ON {table} TO CURRENT_USER")
        for privilege in ("UPDATE", "DELETE", "TRUNCATE"):
            cursor.execute("SELECT has_table_privilege(%s, %s)", [table, privilege])
            assert cursor.fetchone()[0] is False, privilege


def test_the_application_reads_and_adds_evidence_and_works_its_tables(db: None) -> None:
    AuditEvent.objects.create(action=Action.EXPORT, outcome=Outcome.SUCCESS, username="x")
    assert AuditEvent.objects.filter(username="x").count() == 1
    with connection.cursor() as cursor:
        tables = [("incidents_case", False), ("incidents_outbox", False),
                  ("dispatch_assignment", False), ("layers_component", True)]  # fmt: skip
        for table, may_truncate in tables:
            for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
                cursor.execute("SELECT has_table_privilege(%s, %s)", [table, privilege])
                assert cursor.fetchone()[0], (table, privilege)
            cursor.execute("SELECT has_table_privilege(%s, 'TRUNCATE')", [table])
            assert cursor.fetchone()[0] is may_truncate, table
        # A bulk import empties and reloads a base layer as the application.
        cursor.execute("TRUNCATE layers_component")
    # Cases, outbox and assignments: rows yes, the table itself no.
    assert "must be owner" in refused("ALTER TABLE incidents_outbox DISABLE TRIGGER ALL")
    assert "must be owner" in refused("ALTER TABLE incidents_case DROP COLUMN state")


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_the_owner_meets_the_triggers_and_the_grants_are_idempotent() -> None:
    AuditEvent.objects.create(action=Action.EXPORT, outcome=Outcome.SUCCESS, username="x")
    assert "append-only" in refused(f"UPDATE {AUDIT} SET username = 'y'", alias="owner")
    assert "append-only" in refused(f"DELETE FROM {AUDIT}", alias="owner")
    assert "append-only" in refused(f"UPDATE {HISTORY} SET note = ''", alias="owner")
    assert "append-only" in refused(f"DELETE FROM {HISTORY}", alias="owner")
    assert "append-only" in refused(f"UPDATE {FIELDS} SET new = ''", alias="owner")
    assert "append-only" in refused(f"DELETE FROM {FIELDS}", alias="owner")
    first = apply_grants("owner")
    assert apply_grants("owner") == first
    assert any(f'"{AUDIT}"' in s and "SELECT, INSERT" in s for s in first)
    privileges = {
        p: scalar("SELECT has_table_privilege(%s, %s, %s)", [APP, AUDIT, p])
        for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES")
    }
    assert privileges == {
        "SELECT": True, "INSERT": True, "UPDATE": False, "DELETE": False,
        "TRUNCATE": False, "TRIGGER": False, "REFERENCES": False,
    }  # fmt: skip


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_a_database_of_an_earlier_set_up_is_handed_to_the_owner() -> None:
    """scripts/postgres/owner.sql, which `make run` applies to a database whose objects
    the application's role owns (it runs as the superuser there; the owner role, a
    member of the application's, may run it too)."""
    owner_settings = settings.DATABASES["owner"]
    name = f"{owner_settings['NAME']}_upgrade"
    params = {
        "host": owner_settings["HOST"] or None,
        "port": owner_settings["PORT"] or None,
        "autocommit": True,
    }
    as_owner = {**params, "user": owner_settings["USER"], "password": owner_settings["PASSWORD"]}
    app = settings.DATABASES["default"]
    as_app = {**params, "user": app["USER"], "password": app["PASSWORD"]}
    with psycopg.connect(dbname="postgres", **as_owner) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}"')
        server.execute(f'CREATE DATABASE "{name}" OWNER "{APP}" TEMPLATE template0')
    try:
        with psycopg.connect(dbname=name, **as_app) as legacy:
            legacy.execute("CREATE TABLE legacy (id bigserial PRIMARY KEY, note text)")
            legacy.execute("CREATE SEQUENCE loose_seq")
            legacy.execute("CREATE FUNCTION legacy_f() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        env = {**os.environ, "PGPASSWORD": owner_settings["PASSWORD"]}
        command = [
            "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", owner_settings["HOST"],
            "-p", str(owner_settings["PORT"] or 5432), "-U", owner_settings["USER"], "-d", name,
            "-v", f"app={APP}", "-v", f"owner={owner_settings['USER']}",
            "-f", str(ROOT / "scripts" / "postgres" / "owner.sql"),
        ]  # fmt: skip
        for _ in range(2):  # a second run finds nothing to move
            subprocess.run(command, env=env, check=True, capture_output=True, timeout=60)  # noqa: S603
        with psycopg.connect(dbname=name, **as_owner) as upgraded:
            owners = upgraded.execute(
                """
                SELECT (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s)
                UNION ALL SELECT pg_get_userbyid(relowner) FROM pg_class
                WHERE relname IN ('legacy', 'legacy_id_seq', 'legacy_pkey', 'loose_seq')
                UNION ALL SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'legacy_f'
                """,
                [name],
            ).fetchall()
        assert [o for (o,) in owners] == [owner_settings["USER"]] * 6
        denied = pytest.raises(psycopg.errors.InsufficientPrivilege)
        with psycopg.connect(dbname=name, **as_app) as legacy, denied:
            legacy.execute("TRUNCATE legacy")
    finally:
        with psycopg.connect(dbname="postgres", **as_owner) as server:
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migrate_as_the_application_stops_at_once_saying_to_migrate_as_the_owner() -> None:
    """A fresh database of the owner's, migrated with the application's DATABASE_URL
    alone: `migrate` refuses before it applies anything, and names DATABASE_OWNER_URL
    (audit/management/commands/migrate.py), instead of PostgreSQL's "permission denied"
    partway through."""
    owner_settings = settings.DATABASES["owner"]
    app = settings.DATABASES["default"]
    name = f"{owner_settings['NAME']}_as_app"
    params = {"host": owner_settings["HOST"] or None, "port": owner_settings["PORT"] or None}
    as_owner = {**params, "user": owner_settings["USER"], "password": owner_settings["PASSWORD"]}
    template = settings.DATABASES["default"]["TEST"].get("TEMPLATE") or "gridmgmt_template"
    with psycopg.connect(dbname="postgres", autocommit=True, **as_owner) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}"')
        server.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        url = (
            f"postgres://{app['USER']}:{app['PASSWORD']}@{app['HOST'] or '127.0.0.1'}:"
            f"{app['PORT'] or 5432}/{name}"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
        env.update({"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "gridmgmt.settings"})
        command = [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "migrate", "--noinput"]
        done = subprocess.run(  # noqa: S603
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode != 0
        said = " ".join(done.stderr.split())
        assert f"migrate connects as '{app['USER']}'" in said, done.stderr
        assert "DATABASE_OWNER_URL" in said
        assert f"owned by '{owner_settings['USER']}'" in said
        with psycopg.connect(dbname=name, **as_owner) as fresh:
            tables = fresh.execute("SELECT to_regclass('django_migrations')").fetchone()
        assert tables == (None,)  # nothing was applied
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **as_owner) as server:
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.django_db(databases=["default", "owner"])
def test_migrate_as_the_application_refuses_the_owners_tables() -> None:
    """On a migrated database (the test database, migrated by the owner) the application's
    role is refused too: it could not alter the owner's tables."""
    refusal = migration_refusal("default")
    assert refusal is not None
    assert f"belong to '{settings.DATABASES['owner']['USER']}'" in refusal
    assert "DATABASE_OWNER_URL" in refusal
    assert migration_refusal("owner") is None
