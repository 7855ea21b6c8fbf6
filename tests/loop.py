"""The case loop's test kit: the small city with its units, catalogue and routing rules,
and short helpers that drive the API as the users would."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rest_framework.test import APIClient

from incidents.models import Case, Outbox
from layers.models import Area, Category, CategoryKind, Role, Staff, Unit
from tests.cast import centre

if TYPE_CHECKING:
    from rest_framework.response import _MonkeyPatchedResponse as Response

# Cells of the demo street 440106001 (天河区第1街道): create_demo_users gives the
# inspector the first three, inspector2 the next three.
INSPECTOR_CELL = "440106001001001"
INSPECTOR2_CELL = "440106001001004"
OTHER_STREET_CELL = "440106002001001"  # 天河区第2街道
YUEXIU_CELL = "440104001001001"  # 越秀区第1街道

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # a working day

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def set_up_loop() -> None:
    """Catalogue and routing rules (the cast fixture already created units and users)."""
    call_command("loaddata", "catalogue", stdout=io.StringIO())
    call_command("create_demo_routing", stdout=io.StringIO())


def event_category(code: str) -> Category:
    return Category.objects.get(kind=CategoryKind.EVENT, major_code=code[:2], minor_code=code[2:])


def photo(name: str = "site.png", data: bytes = PNG) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/png")


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def add_staff(username: str, role: Role, unit: Unit, cells: list[Area] = ()) -> User:  # type: ignore[assignment]
    user = User.objects.create_user(username)
    staff = Staff.objects.create(user=user, role=role, unit=unit)
    staff.cells.add(*cells)
    return user


def unit_id_of(user: User | str) -> int:
    """The id of the unit `user` (or the user of that name) works in."""
    staff = Staff.objects.get(
        **({"user__username": user} if isinstance(user, str) else {"user": user})
    )
    return staff.unit_id


def report(
    user: User,
    city: dict[str, Area],
    *,
    cell: str = INSPECTOR_CELL,
    category: str = "0101",
    client_uuid: uuid.UUID | None = None,
    **extra: Any,
) -> Response:
    point = centre(city[cell])
    body = {
        "client_uuid": str(client_uuid or uuid.uuid4()),
        "category": event_category(category).pk,
        "description": "路边有一堆暴露垃圾",
        "lon": point.x,
        "lat": point.y,
        "datum": "wgs84",
        **extra,
    }
    return client_for(user).post("/api/cases/reports/", body, format="multipart")


def act(user: User, case_id: int, action: str, **body: Any) -> Response:
    fmt = "multipart" if "photos" in body else "json"
    return client_for(user).post(f"/api/cases/{case_id}/{action}/", body, format=fmt)


def actions(case: Case) -> list[str]:
    return list(case.history.order_by("at", "id").values_list("action", flat=True))


def outbox_kinds(case: Case) -> list[str]:
    # Insertion order: a test's transaction never commits, so its events are not numbered.
    return list(Outbox.objects.filter(case=case).order_by("id").values_list("kind", flat=True))
