"""manage.py purge_audit: remove audit entries older than AUDIT_RETENTION_DAYS (never
fewer than 183 days, also refused by the table's trigger), as the owner role."""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from audit.checks import MIN_RETENTION_DAYS
from audit.models import AuditEvent
from audit.roles import owner_alias


class Command(BaseCommand):
    help = (
        "Delete audit entries older than AUDIT_RETENTION_DAYS (at least 183). Runs as the "
        "database owner role; the application's role may not delete audit entries."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be removed; remove nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = settings.AUDIT_RETENTION_DAYS
        if days < MIN_RETENTION_DAYS:
            raise CommandError(
                f"AUDIT_RETENTION_DAYS is {days}; audit entries are kept at least "
                f"{MIN_RETENTION_DAYS} days."
            )
        cutoff = timezone.now() - dt.timedelta(days=days)
        alias = owner_alias()
        old = AuditEvent.objects.using(alias).filter(at__lt=cutoff)
        if options["dry_run"]:
            self.stdout.write(f"{old.count()} audit entries older than {cutoff:%Y-%m-%d} (kept)")
            return
        with transaction.atomic(using=alias):
            removed, _ = old.delete()
        self.stdout.write(f"removed {removed} audit entries older than {cutoff:%Y-%m-%d}")
