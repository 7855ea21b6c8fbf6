"""List, per district, every catalogue subcategory that no rule or owner reaches.

    manage.py routing_gaps [--check]

What counts as reached: dispatch/routing_gaps.py. With --check the command exits with
status 1 when there is a gap (for a deployment check).
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dispatch.routing_gaps import Gap, routing_gaps
from layers.models import CategoryKind


class Command(BaseCommand):
    help = "List, per district, the catalogue subcategories that no routing rule or owner reaches."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Exit with status 1 on a gap.")

    def handle(self, *args: Any, **options: Any) -> None:
        gaps = routing_gaps()
        if not gaps:
            self.stdout.write("no gaps: every subcategory reaches a unit in every district")
            return
        for district, rows in groupby(gaps, key=lambda gap: gap.district):
            listed = list(rows)
            self.stdout.write(
                f"{district.code} {district.name}: {len(listed)} subcategories reach no unit"
            )
            for gap in listed:
                self.stdout.write(f"  {_line(gap)}")
        districts = len({gap.district.pk for gap in gaps})
        summary = f"{len(gaps)} gaps in {districts} districts"
        if options["check"]:
            raise CommandError(summary)
        self.stdout.write(summary)


def _line(gap: Gap) -> str:
    category = gap.category
    kind = "部件" if category.kind == CategoryKind.COMPONENT else "事件"
    code = f"{category.major_code}{category.minor_code}"
    unit_type = category.default_unit_type or "-"
    text = f"{kind} {code} {category.name} ({unit_type}): {gap.outcome}"
    if gap.streets < gap.of_streets:
        text += f" [in {gap.streets} of {gap.of_streets} streets]"
    if gap.maintained is not None:
        kept, total = gap.maintained
        text += f" [components with a maintaining unit: {kept} of {total}]"
    return text
