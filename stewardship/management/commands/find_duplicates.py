"""manage.py find_duplicates [--layer L] [--report FILE] [--merge]: duplicate base records
(stewardship.duplicates), written to a CSV report; --merge merges each group into its
oldest record, keeping the history."""

from __future__ import annotations

import csv
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from stewardship import duplicates
from stewardship import layers as L


class Command(BaseCommand):
    help = (
        "Find duplicate base records (same ID number, credit code or component code; "
        "near-identical address text and point), report them and optionally merge them."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--layer", choices=sorted(L.MODELS), action="append")
        parser.add_argument("--report", type=Path, default=Path("duplicates.csv"))
        parser.add_argument(
            "--merge", action="store_true", help="merge each group into its oldest record"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        layers = options["layer"] or list(L.MODELS)
        found = [g for layer in layers for g in duplicates.find(layer)]
        with options["report"].open("w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow(["layer", "reason", "kept_id", "duplicate_ids"])
            for group in found:
                writer.writerow(
                    [group.layer, group.reason, group.ids[0], " ".join(map(str, group.ids[1:]))]
                )
        for layer in layers:
            groups = [g for g in found if g.layer == layer]
            records = sum(len(g.ids) for g in groups)
            self.stdout.write(f"{layer}: {len(groups)} groups, {records} records")
        self.stdout.write(f"report: {options['report']}")
        if options["merge"]:
            for group in found:
                duplicates.merge(group)
            self.stdout.write(f"merged {len(found)} groups (history kept)")
