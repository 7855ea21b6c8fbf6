"""While `migrate` runs as the owner role, the ORM reads and writes through it too: a data
migration that uses a model's default manager (as most do) would otherwise write through
the application's alias — in tests, into another database than the one being migrated."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

migrating: ContextVar[str | None] = ContextVar("audit_migrating", default=None)


class MigrationRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return migrating.get()

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return migrating.get()
