"""Two database roles (docs/deployment.md, "Database roles").

- The owner role (DATABASE_OWNER_URL, the `owner` alias) owns the schema: `migrate`,
  `flush` and `purge_audit` run as it.
- The application role (DATABASE_URL, the `default` alias) serves requests and runs the
  worker. It owns none of the protected tables, so it cannot TRUNCATE them, drop or
  disable their triggers, or change their privileges; on the case history, the base
  records' field history and the audit trail it may only SELECT and INSERT (their
  triggers refuse UPDATE and DELETE to every role besides).

After every `migrate` the owner applies the grants below, so a new table is covered at
once and an older database is brought in line by the next `make run`.

The base layers that imports write in bulk (and the tables rebuilt from them) are handed
to the application role: a bulk import drops and rebuilds their indexes, TRUNCATE reloads
them, and both are an owner's operations in PostgreSQL. They hold no evidence. For the
owner to keep migrating them, it is a member of the application role (never the other
way round: that would give the application the owner's rights).
"""

from __future__ import annotations

import logging
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from psycopg import sql

logger = logging.getLogger(__name__)

OWNER_ALIAS = "owner"
# Evidence: the application may read and add rows, nothing else.
PROTECTED_TABLES = ("incidents_caseevent", "audit_auditevent", "stewardship_fieldchange")
# Written in bulk by imports (layers/importing/writer.py drops and rebuilds their indexes)
# or rebuilt whole from other tables: owned by the application role.
APP_OWNED_TABLES = (
    "layers_person",
    "layers_legalentity",
    "layers_component",
    "layers_address",
    "layers_building",
    "layers_areapiece",
    "map_ui_tilelabel",
    "map_ui_tilecount",
    "patrol_position",  # partitions made at ingest, dropped at purge (patrol.partitions)
)


def separated() -> bool:
    """Whether the owner and the application connect as different roles."""
    owner = settings.DATABASES.get(OWNER_ALIAS)
    default = settings.DATABASES[DEFAULT_DB_ALIAS]
    return owner is not None and owner.get("USER") != default.get("USER")


def owner_alias() -> str:
    """The alias that may change the schema: `owner` when the roles are separated."""
    return OWNER_ALIAS if separated() else DEFAULT_DB_ALIAS


def grant_after_migrate(sender: AppConfig, using: str, plan: Any = None, **kwargs: Any) -> None:
    """post_migrate: apply the grants once per `migrate` (the signal comes once per app;
    `flush` sends it without a plan, and TRUNCATE keeps privileges)."""
    if sender.label != "audit" or plan is None:
        return
    if using == OWNER_ALIAS and separated():
        apply_grants(using)


def apply_grants(alias: str = OWNER_ALIAS) -> list[str]:
    """Give the application role exactly what it needs on the owner's tables; returns
    the statements run. Idempotent."""
    app = settings.DATABASES[DEFAULT_DB_ALIAS]["USER"]
    role = sql.Identifier(app)
    statements: list[sql.Composable] = [
        # CREATE: an import's unlogged staging table, and owning the bulk tables.
        sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(role),
    ]
    # One transaction: a REVOKE followed by its GRANT is never seen half done.
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, c.relkind, pg_has_role(current_user, %s, 'MEMBER')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
              AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
            ORDER BY c.relname
            """,
            [app],
        )
        rows = cursor.fetchall()
        for name, kind, owner_is_member in rows:
            statements += _grants_for(name, kind, role, can_hand_over=owner_is_member)
        for statement in statements:
            cursor.execute(statement)
        if rows and not rows[0][2]:
            logger.warning(
                "the owner role is not a member of %s: the base layers stay the owner's, "
                "and an import into an empty layer must run as the owner",
                app,
            )
    return [s.as_string(connections[alias].connection) for s in statements]


def _grants_for(
    name: str, kind: str, role: sql.Identifier, *, can_hand_over: bool
) -> list[sql.Composable]:
    table = sql.Identifier(name)
    if kind == "S":
        # Sequences behind id columns: nextval() needs USAGE; loading a fixture resets
        # them with setval(), which needs UPDATE.
        return [sql.SQL("GRANT USAGE, SELECT, UPDATE ON SEQUENCE {} TO {}").format(table, role)]
    revoke = sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(table, role)
    if name in PROTECTED_TABLES:
        return [revoke, sql.SQL("GRANT SELECT, INSERT ON TABLE {} TO {}").format(table, role)]
    if name in APP_OWNED_TABLES and can_hand_over:
        return [sql.SQL("ALTER TABLE {} OWNER TO {}").format(table, role)]
    privileges = "SELECT" if kind in ("v", "m") else "SELECT, INSERT, UPDATE, DELETE"
    if name in APP_OWNED_TABLES:
        privileges += ", TRUNCATE"
    return [
        revoke,
        sql.SQL("GRANT {} ON TABLE {} TO {}").format(sql.SQL(privileges), table, role),
    ]
