"""Issue an Open311 API key, creating the client application on first use.

    manage.py issue_open311_key --name demo [--scope AREA_CODE] [--channel web]
                                [--unit UNIT_NAME] [--label "test phone"] [--quiet]

A new application gets the city as its intake scope, the `web` channel and the first
12345 hotline unit unless told otherwise; an existing one keeps what it has (change it in
the admin). Every run issues one more key and prints it: it is shown this once only.
--quiet prints the key alone, for scripts: KEY=$(manage.py issue_open311_key --name demo -q)
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from incidents.models import Channel
from layers.models import Area, Tier, Unit, UnitKind
from open311.clients import client_save, key_issue
from open311.models import CLIENT_CHANNELS, SCOPE_TIERS, ClientApplication


class Command(BaseCommand):
    help = "Issue an Open311 API key (and create the client application if it is new)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="Client application name.")
        parser.add_argument("--scope", help="Intake scope: area code (default: the city).")
        parser.add_argument(
            "--channel",
            default=Channel.WEB,
            choices=[value for value, _label in CLIENT_CHANNELS],
            help="Channel of its reports (default web).",
        )
        parser.add_argument("--unit", help="Hotline unit name (default: the first one).")
        parser.add_argument("--label", default="", help="A note on the key.")
        parser.add_argument("-q", "--quiet", action="store_true", help="Print the key only.")

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            application = ClientApplication.objects.filter(name=options["name"]).first()
            if application is None:
                application = client_save(
                    ClientApplication(
                        name=options["name"],
                        channel=options["channel"],
                        scope=_scope(options["scope"]),
                        unit=_unit(options["unit"]),
                    )
                )
                created = True
            else:
                created = False
            issued = key_issue(application=application, label=options["label"])
        if options["quiet"]:
            self.stdout.write(issued.secret)
            return
        verb = "created" if created else "exists"
        self.stdout.write(
            f"application {application.name} ({verb}): channel {application.channel}, "
            f"scope {application.scope.code} {application.scope.name}, unit {application.unit}"
        )
        self.stdout.write(f"API key (shown this once, only its hash is kept): {issued.secret}")


def _scope(code: str | None) -> Area:
    areas = Area.objects.current().filter(tier__in=SCOPE_TIERS).defer("geom")
    found = areas.filter(code=code).first() if code else areas.filter(tier=Tier.CITY).first()
    if found is None:
        raise CommandError(
            f"No current city, district, street or community with code {code}."
            if code
            else "No city area: load the areas first (manage.py load_demo_city)."
        )
    return found


def _unit(name: str | None) -> Unit:
    units = Unit.objects.filter(kind=UnitKind.HOTLINE).order_by("pk")
    found = units.filter(name=name).first() if name else units.first()
    if found is None:
        raise CommandError(
            f"No hotline unit named {name}."
            if name
            else "No hotline unit: create one (manage.py create_demo_users creates the demo's)."
        )
    return found
