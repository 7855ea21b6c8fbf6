"""The kit's city, through the project's own code: the small rectangular test city
(tests/cities.py), the catalogue, the demo units, users and routing rules, and a few more
inspectors so that the storm spreads over several accounts (each has its own request
rate limit), as it would across a street's inspectors. Sessions are made directly.

Also what the kit reads back at the end: the cases stored under each report's UUID, the
history of the racing actions, and the live events each client may receive
(incidents.access, the project's one access function for cases).
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import uuid
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from bench.faults.stack import ROOT

INSPECTORS = 16  # extra inspectors, two cells each
LIVE_USERS = ["city", "district", "street", "inspector", "inspector2", "department",
              "enforcement", "leader", "hotline", "faults-inspector-0",
              "faults-inspector-9"]  # fmt: skip
COMMANDERS = ["city", "district", "street"]  # who may file and cancel in the demo street


@dataclass(frozen=True)
class Account:
    username: str
    user_id: int
    session: str
    points: list[tuple[float, float]]  # inside the account's cells (inspectors only)


def migrate(env: dict[str, str]) -> None:
    """The schema, created by the owner role alone (data migrations included: they write
    through the default connection); the application's grants follow in build()."""
    owner = {**env, "DATABASE_URL": env["DATABASE_OWNER_URL"]}
    command = [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0", "--skip-checks"]
    subprocess.run(command, cwd=ROOT, env=owner, check=True, timeout=600)


def setup_django(env: dict[str, str]) -> None:
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL")})
    os.environ["CHANNEL_LAYER_PREFIX"] = env["CHANNEL_LAYER_PREFIX"]
    os.environ["DATABASE_POOL_SIZE"] = "0"  # the kit reconnects after each outage
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridmgmt.settings")
    import django

    django.setup()


def build() -> dict[str, Account]:
    """Migrate, load the city and its people; returns every account by username."""
    from django.contrib.auth.models import User
    from django.core.management import call_command

    from layers.models import Area, Role, Staff, Tier, Unit
    from tests.cities import build_small_city

    quiet = io.StringIO()
    call_command("migrate", verbosity=0, stdout=quiet)  # the owner's grants (audit.roles)
    build_small_city()
    call_command("loaddata", "catalogue", verbosity=0, stdout=quiet)
    call_command("create_demo_users", stdout=quiet)
    call_command("create_demo_routing", stdout=quiet)
    cells = list(Area.objects.filter(tier=Tier.CELL).order_by("code"))
    unit = Staff.objects.get(user__username="inspector").unit
    assert isinstance(unit, Unit)
    for n in range(INSPECTORS):
        user, _ = User.objects.get_or_create(username=f"faults-inspector-{n}")
        staff, _ = Staff.objects.get_or_create(
            user=user, defaults={"role": Role.INSPECTOR, "unit": unit}
        )
        staff.cells.set(cells[2 * n : 2 * n + 2])
    return {user.username: _account(user) for user in User.objects.all()}


def _account(user: Any) -> Account:
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend

    # The backend that signs users in (a lockout backend before it only guards).
    backend = next(
        path for path in settings.AUTHENTICATION_BACKENDS if hasattr(load_backend(path), "get_user")
    )
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = backend
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    points = []
    staff = getattr(user, "staff", None)
    if staff is not None:
        for cell in staff.cells.order_by("code"):
            p = cell.geom.point_on_surface
            points.append((p.x, p.y))
    return Account(user.username, user.pk, store.session_key or "", points)


def inspectors(accounts: dict[str, Account]) -> list[Account]:
    return [a for name, a in sorted(accounts.items()) if name.startswith("faults-inspector-")]


def report_body(account: Account, rng: random.Random, tag: str, category: int) -> dict[str, Any]:
    """An inspector's report (WGS 84) in one of their cells, its tag in the description."""
    lon, lat = rng.choice(account.points)
    return {
        "client_uuid": str(uuid.UUID(int=rng.getrandbits(128))),
        "category": category,
        "description": f"故障演练：路边有一堆暴露垃圾（{tag}）",
        "lon": round(lon + rng.uniform(-1e-4, 1e-4), 7),
        "lat": round(lat + rng.uniform(-1e-4, 1e-4), 7),
        "datum": "wgs84",
        "accuracy_m": 10.0,
    }


def categories() -> tuple[int, int]:
    """A category the demo rules leave to a dispatcher (城市容貌 01), and one they file
    and dispatch at once (街面秩序 05)."""
    from layers.models import Category

    events = Category.objects.filter(kind="event").exclude(minor_code="").order_by("pk")
    return events.filter(major_code="01")[0].pk, events.filter(major_code="05")[0].pk


def reconnect() -> None:
    """Drop the kit's connection (the database may have restarted under it)."""
    from django.db import connection

    connection.close()


def stored(uuids: list[str]) -> dict[str, list[int]]:
    """Case ids stored under each client UUID, and under each report's tag (a duplicate
    filed under another UUID would show there)."""
    from incidents.models import Case

    found: dict[str, list[int]] = {}
    rows = Case.objects.filter(client_uuid__in=uuids).values_list("client_uuid", "pk")
    for client_uuid, pk in rows:
        found.setdefault(str(client_uuid), []).append(pk)
    return found


def tagged(prefix: str) -> dict[str, int]:
    """How many cases carry each tag that starts with `prefix`."""
    from incidents.models import Case

    counts: dict[str, int] = {}
    for description in Case.objects.filter(description__contains=f"（{prefix}").values_list(
        "description", flat=True
    ):
        tag = description.rsplit("（", 1)[1].rstrip("）")
        counts[tag] = counts.get(tag, 0) + 1
    return counts


def reported_cases(count: int) -> list[int]:
    """`count` cases still in the state `reported` in the street of the demo user `street`,
    where the command centres of the street, its district and the city may all act."""
    from incidents.models import Case, State
    from layers.models import Staff

    street = Staff.objects.get(user__username="street").unit.area_id
    cases = Case.objects.filter(state=State.REPORTED, street_id=street).order_by("pk")
    return list(cases.values_list("pk", flat=True)[:count])


def actions_of(case_ids: list[int], names: list[str]) -> dict[int, list[str]]:
    from incidents.models import CaseEvent

    found: dict[int, list[str]] = {pk: [] for pk in case_ids}
    rows = CaseEvent.objects.filter(case_id__in=case_ids, action__in=names)
    for case_id, action in rows.values_list("case_id", "action"):
        found[case_id].append(action)
    return found


def last_seq() -> int:
    from incidents.outbox import last_seq as committed

    return committed()


def audience(username: str, after: int, upto: int) -> tuple[set[int], set[int]]:
    """For `username`: the event numbers in (after, upto] they may receive, and the ids
    of the cases they may see (incidents.access)."""
    from django.contrib.auth.models import User

    from incidents.access import live_audience, visible_cases

    user = User.objects.select_related("staff").get(username=username)
    events = live_audience(user).events().filter(seq__gt=after, seq__lte=upto)
    seqs = set(events.values_list("seq", flat=True))
    cases = set(visible_cases(user).values_list("pk", flat=True))
    return seqs, cases


def event_cases(seqs: set[int]) -> dict[int, int]:
    from incidents.models import Outbox

    return dict(Outbox.objects.filter(seq__in=seqs).values_list("seq", "case_id"))
