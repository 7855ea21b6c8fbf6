"""manage.py start_city [--city-dir DIR]: the first run of an installation (`make run`).

- With --city-dir, on an empty database: the city's own files, through the same import
  commands an administrator uses afterwards, then a data administrator user.
- Without it, on an empty database: the demo city (load_demo_city), its demo users and
  routing rules, then HISTORY_DAYS days of history through the real services
  (simulate_city, docs/simulation.md) so that every page shows a living city.
- On a database that already holds areas: nothing is loaded; what is there is served
  (a demo history that was interrupted is finished first).
  Later changes go through import_areas, import_layer and import_calendar directly.

The layout of a city directory (every part but areas/ may be left out):

    DIR/datum.txt        the datum of every file's coordinates: wgs84 (default), gcj02,
                         bd09 or cgcs2000
    DIR/areas/*          the official hierarchy, imported with import_areas in file-name
                         order (parents first: 1-city.geojson, 2-streets.gpkg, …); columns
                         code, name, name_en, parent_code, level (or a file name whose part
                         after the number names the tier: 2-street.gpkg, 3-社区.csv)
    DIR/layers/<layer>.* base data, imported with import_layer: addresses, buildings,
                         entities, components, population; columns as the layer's fields
    DIR/calendar/*.csv   the working calendar (holidays and 调休), see import_calendar

Formats: whatever import_areas and import_layer read (GeoPackage, Shapefile, GeoJSON,
CSV). The data administrator's password comes from GRIDMGMT_ADMIN_PASSWORD, or is made
up and printed once.
"""

from __future__ import annotations

import os
import re
import secrets
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from layers.datum import parse_datum
from layers.importing.specs import LAYERS
from layers.management.commands.create_demo_users import ADMIN_PERMISSIONS
from layers.models import Area, Category, Role, Staff, Tier, Unit, UnitKind
from simulation.models import Run

ADMIN_PASSWORD_ENV = "GRIDMGMT_ADMIN_PASSWORD"  # noqa: S105 - the name of a variable
# The demo's history (simulate_city): how many days, how busy (1.0: 2,000 incidents a
# day; the demo's 20 a day simulate a month in a few minutes), from which seed.
HISTORY_DAYS = 30
HISTORY_SCALE = 0.01
HISTORY_SEED = 1
LAYER_ORDER = ["addresses", "buildings", "entities", "components", "population"]
TIER_WORDS = {
    **{tier.value: tier.value for tier in Tier},
    "市": "city", "区": "district", "县": "district", "街道": "street", "镇": "street",
    "乡": "street", "社区": "community", "村": "community", "网格": "cell",
}  # fmt: skip


class Command(BaseCommand):
    help = (
        "First run: load a city's own files (--city-dir) or, without them, the demo city, "
        "into an empty database; on a database that holds a city, change nothing."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--city-dir", type=Path, help="the city's files (layout: see the docs)")
        parser.add_argument("--admin", default="data_admin", help="the data administrator's name")
        parser.add_argument("--demo-scale", type=float, default=0.01, help="the demo's scale")
        parser.add_argument(
            "--history-days",
            type=int,
            default=HISTORY_DAYS,
            help=f"days of simulated history for the demo city (default {HISTORY_DAYS}; 0: none)",
        )
        parser.add_argument(
            "--history-scale",
            type=float,
            default=HISTORY_SCALE,
            help=f"the history's incidents, 1.0 = 2,000 a day (default {HISTORY_SCALE:g})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        held = Area.objects.current().count()
        if held:
            self.stdout.write(
                f"the database holds a city ({held} current areas): serving it, nothing loaded"
            )
            self.demo_history(options, resume_only=True)
            return
        city_dir: Path | None = options["city_dir"]
        if city_dir is None:
            self.stdout.write("empty database: loading the demo city")
            call_command("load_demo_city", scale=options["demo_scale"], stdout=self.stdout)
            call_command("create_demo_users", stdout=self.stdout)
            call_command("create_demo_routing", stdout=self.stdout)
            self.demo_history(options, resume_only=False)
            return
        self.load_city_dir(city_dir)
        self.ensure_data_admin(options["admin"])

    def demo_history(self, options: dict[str, Any], *, resume_only: bool) -> None:
        """The demo city's first month (simulate_city with the demo's seed). On a later
        start, only a history that was interrupted goes on (one query otherwise)."""
        days = options["history_days"]
        if days <= 0:
            return
        if resume_only:
            unfinished = Run.objects.filter(seed=HISTORY_SEED, hours_done__lt=days * 24)
            if not unfinished.exists():
                return
            self.stdout.write("the demo city's history was interrupted: going on")
        else:
            self.stdout.write(f"simulating {days} days of the demo city's history")
        call_command(
            "simulate_city",
            days=days,
            seed=HISTORY_SEED,
            scale=options["history_scale"],
            stdout=self.stdout,
        )

    def load_city_dir(self, root: Path) -> None:
        if not (root / "areas").is_dir():
            raise CommandError(f"{root}/areas/ is missing: a city directory needs its areas")
        layers = {path.stem: path for path in _files(root / "layers")}
        unknown = sorted(set(layers) - set(LAYERS))
        if unknown:  # checked before anything is imported
            raise CommandError(
                f"unknown layer files {unknown} in {root}/layers/: name them "
                f"{', '.join(f'<{name}>' for name in LAYER_ORDER)}"
            )
        datum = "wgs84"
        if (root / "datum.txt").exists():
            datum = (root / "datum.txt").read_text(encoding="utf-8").strip()
            parse_datum(datum)  # an unknown datum stops here, before any import
        common = ["--datum", datum, "--no-progress"]
        if not Category.objects.exists():
            call_command("loaddata", "catalogue", verbosity=0)
        for path in _files(root / "areas"):
            level = _level(path)
            extra = ["--level", level] if level else []
            self.stdout.write(f"areas: {path.name}")
            call_command("import_areas", str(path), *common, *extra, stdout=self.stdout)
        if not Area.objects.current().exists():
            raise CommandError(f"no area was imported from {root}/areas/")
        for layer in [name for name in LAYER_ORDER if name in layers]:
            self.stdout.write(f"base data: {layers[layer].name}")
            call_command("import_layer", layer, str(layers[layer]), *common, stdout=self.stdout)
        for path in _files(root / "calendar"):
            self.stdout.write(f"calendar: {path.name}")
            call_command("import_calendar", str(path), stdout=self.stdout)

    def ensure_data_admin(self, username: str) -> None:
        top = Area.objects.current().filter(parent=None).defer("geom").order_by("tier", "code")
        city = top.filter(tier=Tier.CITY).first() or top.first()
        assert city is not None  # load_city_dir imported areas
        users = get_user_model().objects
        if users.filter(username=username).exists():
            self.stdout.write(f"data administrator {username} exists: unchanged")
            return
        password = os.environ.get(ADMIN_PASSWORD_ENV) or secrets.token_urlsafe(12)
        codenames = ADMIN_PERMISSIONS[Role.DATA_ADMIN]
        permissions = Permission.objects.filter(
            content_type__app_label="layers", codename__in=codenames
        )
        with transaction.atomic():
            unit, _ = Unit.objects.get_or_create(
                name=f"{city.name}数据管理",
                defaults={"tier": city.tier, "area": city, "kind": UnitKind.OTHER},
            )
            user = users.create_user(username=username, password=password, is_staff=True)
            user.user_permissions.add(*permissions)
            Staff.objects.create(user=user, role=Role.DATA_ADMIN, unit=unit)
        shown = "(from the environment)" if os.environ.get(ADMIN_PASSWORD_ENV) else password
        self.stdout.write(f"data administrator: {username}, password {shown}")


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    # Reports of an earlier run (*.rejected.csv) and hidden files are not data.
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file()
        and not path.name.startswith(".")
        and not path.name.endswith(".rejected.csv")
        and path.suffix.lower() in {".gpkg", ".shp", ".geojson", ".json", ".csv"}
    )


def _level(path: Path) -> str | None:
    """The tier a file name gives (2-street.gpkg, 3-社区.csv), else None (a level column)."""
    word = re.sub(r"^\d+[-_ ]*", "", path.stem)
    return TIER_WORDS.get(word.lower()) or TIER_WORDS.get(word.rstrip("s").lower())
