"""manage.py patrol_purge: drop the track's daily partitions older than
PATROL_RETENTION_DAYS (PIPL: kept no longer than their purpose needs), as the owner role.
Daily, from cron, like purge_audit."""

from __future__ import annotations

import datetime as dt
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audit.roles import owner_alias
from gridmgmt import clock
from patrol.partitions import drop_before, local_day


class Command(BaseCommand):
    help = "Drop patrol track partitions of days older than PATROL_RETENTION_DAYS (default 30)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be dropped; drop nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = int(settings.PATROL_RETENTION_DAYS)
        if days < 1:
            raise CommandError(f"PATROL_RETENTION_DAYS is {days}; it must be at least 1.")
        # Today and the `days` days before it are kept whole.
        first_kept = local_day(clock.now()) - dt.timedelta(days=days)
        dropped = drop_before(first_kept, using=owner_alias(), dry_run=options["dry_run"])
        verb = "would drop" if options["dry_run"] else "dropped"
        self.stdout.write(
            f"{verb} {len(dropped)} track partitions before {first_kept:%Y-%m-%d}"
            + (f": {', '.join(dropped)}" if dropped else "")
        )
