"""List the components' unit names that match no unit, or match them again.

    manage.py component_units [--resolve]

The 主管部门, 权属单位 and 养护单位 of a component name units by name or code
(layers.owners). A name that matches no unit keeps its text and no reference: this lists
each such text with the number of components that carry it, by column. --resolve first
matches every such text again (after the units were added or given their codes).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from layers.owners import resolve_all, unmatched


class Command(BaseCommand):
    help = "List (or --resolve) the component unit names that match no unit."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--resolve", action="store_true", help="Match every unmatched name again first."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["resolve"]:
            with transaction.atomic():
                counts = resolve_all()
            self.stdout.write(f"{sum(counts.values())} references set")
        rows = unmatched()
        if not rows:
            self.stdout.write("no unit names left unmatched")
            return
        for column, text, components in rows:
            self.stdout.write(f"{column}  {text}  {components}")
        total = sum(n for _c, _t, n in rows)
        self.stdout.write(f"{len(rows)} unit names match no unit ({total} component fields)")
