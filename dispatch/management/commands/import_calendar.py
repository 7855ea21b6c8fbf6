"""manage.py import_calendar FILE: a year's holidays and 调休 days (dispatch/holidays.py).

The file is CSV in UTF-8: date,is_workday,name (see dispatch/holidays.py for the format).
The years the file names replace those years' rows; a bad row rejects the whole file,
with each bad row's line number and reason.
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from dispatch.holidays import import_calendar, shortage_message


class Command(BaseCommand):
    help = (
        "Import the working calendar's holidays and worked weekend days from a CSV file "
        "(date,is_workday,name); the years in the file replace those years' rows."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            data = options["file"].read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read {options['file']}: {error.strerror}") from error
        try:
            result = import_calendar(data)
        except UnicodeDecodeError as error:
            raise CommandError(f"{options['file']} is not UTF-8 text") from error
        for line, reason in result.errors:
            self.stderr.write(f"line {line}: {reason}")
        if result.errors:
            raise CommandError(result.summary())
        self.stdout.write(result.summary())
        warning = shortage_message()
        if warning:
            self.stdout.write(self.style.WARNING(warning))
