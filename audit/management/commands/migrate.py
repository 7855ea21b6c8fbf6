"""`manage.py migrate` runs as the owner role when there is one (audit/roles.py): the
application's role may not change the schema. `--database` still chooses; data
migrations read and write through the same alias (audit/routers.py)."""

from __future__ import annotations

from typing import Any

from django.core.management.commands import migrate
from django.db import DEFAULT_DB_ALIAS

from audit.roles import owner_alias
from audit.routers import migrating


class Command(migrate.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        if options["database"] == DEFAULT_DB_ALIAS:
            options["database"] = owner_alias()
        token = migrating.set(options["database"])
        try:
            super().handle(*args, **options)
        finally:
            migrating.reset(token)
