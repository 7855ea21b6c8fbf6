"""The provincial 12345 exchange from files (docs/exchange.md), for platforms that hand
over batches as files rather than through the API:

    manage.py exchange_12345 import tickets.json --user hotline   # prints the answer
    manage.py exchange_12345 export [--since 2026-11-23T00:00:00+08:00] > results.json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from exchange import provincial
from incidents.errors import CaseError


class Command(BaseCommand):
    help = "Import a batch of provincial 12345 tickets from a JSON file, or export 回单."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["import", "export"])
        parser.add_argument("file", nargs="?", help="import: the batch (JSON)")
        parser.add_argument("--user", default="hotline", help="import as this 12345 seat")
        parser.add_argument("--since", help="export: cases changed after (ISO 8601)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "import":
            answer: dict[str, Any] = {"format": provincial.FORMAT, **self._import(options)}
        else:
            since = None
            if options["since"]:
                since = parse_datetime(options["since"])
                if since is None or since.tzinfo is None:
                    raise CommandError("--since: an ISO 8601 time with its offset")
            answer = {"format": provincial.FORMAT, "results": provincial.results(since=since)}
        self.stdout.write(json.dumps(answer, ensure_ascii=False, indent=2))

    def _import(self, options: dict[str, Any]) -> provincial.ImportResult:
        if not options["file"]:
            raise CommandError("import: name the batch file")
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {options['user']!r}")
        try:
            batch = json.loads(Path(options["file"]).read_text(encoding="utf-8"))
            return provincial.import_tickets(user=user, batch=batch)
        except (OSError, ValueError) as error:
            raise CommandError(f"{options['file']}: {error}") from error
        except CaseError as error:
            raise CommandError(error.message) from error
