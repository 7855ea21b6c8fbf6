"""manage.py set_layer_owner <layer> <unit name>: the department that owns a base layer
(一数一源): its staff's changes apply directly, everyone else proposes."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from layers.models import Unit
from stewardship import layers as L
from stewardship.models import LayerOwner


class Command(BaseCommand):
    help = "Set the department that owns a base layer (also in the admin)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("layer", choices=sorted(L.MODELS))
        parser.add_argument("unit", help="the unit's name")

    def handle(self, *args: Any, **options: Any) -> None:
        unit = Unit.objects.filter(name=options["unit"]).first()
        if unit is None:
            raise CommandError(f"no unit named {options['unit']!r}")
        model = L.MODELS[options["layer"]]
        LayerOwner.objects.update_or_create(layer=L.content_type(model), defaults={"unit": unit})
        self.stdout.write(f"{options['layer']}: owned by {unit.name}")
