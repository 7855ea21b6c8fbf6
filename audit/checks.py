"""System checks (`manage.py check`, and the health endpoint's): the audit trail is only
tamper-proof when the application does not connect as the tables' owner."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from audit.roles import separated

MIN_RETENTION_DAYS = 183


@register(Tags.security)
def check_audit(**kwargs: Any) -> list[Warning | Error]:
    found: list[Warning | Error] = []
    if not separated():
        found.append(
            Warning(
                "The application connects to the database as the role that owns the "
                "tables: it could TRUNCATE the case history and the audit trail or disable "
                "their triggers.",
                hint="Set DATABASE_OWNER_URL to a separate owner role (docs/deployment.md).",
                id="audit.W001",
            )
        )
    if settings.AUDIT_RETENTION_DAYS < MIN_RETENTION_DAYS:
        found.append(
            Error(
                f"AUDIT_RETENTION_DAYS is {settings.AUDIT_RETENTION_DAYS}; MLPS level 3 "
                f"requires at least {MIN_RETENTION_DAYS} days.",
                id="audit.E001",
            )
        )
    return found
