"""The audit trail (MLPS level 3): sign-ins, unmasked personal data, exports, admin
changes and case actions each leave an entry saying who, when, from where, what and how
it ended; the purge removes only entries older than the retention."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.test import AsyncClient, Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django.fixtures import Settings

from audit.checks import check_audit
from audit.models import Action, AuditEvent, Outcome
from incidents.models import Case, CaseEvent
from layers.models import Area, Person
from tests.loop import OTHER_STREET_CELL, act, client_for, event_category, report

ROOT = Path(__file__).resolve().parent.parent
BROWSER: dict[str, Any] = {"REMOTE_ADDR": "10.1.2.3", "HTTP_USER_AGENT": "Mozilla/5.0 (audit test)"}


def entries(action: Action) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_it_records_sign_in_failed_sign_in_and_sign_out(cast: dict[str, User]) -> None:
    user = cast["street"]
    user.set_password("right-password-1")
    user.save()
    client = Client(**BROWSER)
    client.post("/accounts/login/", {"username": "street", "password": "wrong"})
    client.post("/accounts/login/", {"username": "street", "password": "right-password-1"})
    client.post("/accounts/logout/")

    (failed,) = entries(Action.LOGIN_FAILED)
    assert (failed.user_id, failed.username, failed.outcome) == (None, "street", Outcome.FAILED)
    assert (failed.ip, failed.user_agent) == ("10.1.2.3", "Mozilla/5.0 (audit test)")
    assert "wrong" not in str(failed.detail)
    (login,) = entries(Action.LOGIN)
    (logout,) = entries(Action.LOGOUT)
    for event in (login, logout):
        assert (event.user_id, event.username, event.ip) == (user.pk, "street", "10.1.2.3")
        assert event.outcome == Outcome.SUCCESS
    assert failed.at <= login.at <= logout.at


def test_a_list_of_unmasked_people_is_one_entry_naming_each_person(
    cast: dict[str, User], residents: dict[str, Person]
) -> None:
    client = client_for(cast["admin"])
    client.get("/api/layers/people/")  # warm: the session and the user are cached below
    before = AuditEvent.objects.count()
    response = client.get("/api/layers/people/", **BROWSER)
    assert response.status_code == 200
    assert all(not f["properties"]["personal_data_masked"] for f in response.json()["features"])
    new = list(AuditEvent.objects.order_by("id")[before:])
    assert [e.action for e in new] == [Action.PERSONAL_READ]
    read = new[0]
    ids = sorted(str(p.pk) for p in residents.values())
    assert read.detail["objects"] == {"layers.person": {"count": 4, "ids": ids}}
    assert (read.user_id, read.ip, read.detail["path"]) == (
        cast["admin"].pk,
        "10.1.2.3",
        "/api/layers/people/",
    )
    # One insert per request, whatever the number of rows; none for masked rows.
    with CaptureQueriesContext(connection) as unmasked:
        client.get("/api/layers/people/")
    masked_client = client_for(cast["street"])
    with CaptureQueriesContext(connection) as masked:
        masked_client.get("/api/layers/people/")
    inserts = [q["sql"] for q in unmasked.captured_queries if "audit_auditevent" in q["sql"]]
    assert len(inserts) == 1 and inserts[0].startswith("INSERT")
    assert not [q for q in masked.captured_queries if "audit_auditevent" in q["sql"]]


def test_masked_reads_leave_no_personal_data_entry(
    cast: dict[str, User], residents: dict[str, Person]
) -> None:
    response = client_for(cast["street"]).get("/api/layers/people/")
    assert response.status_code == 200
    assert response.json()["features"]
    assert all(f["properties"]["personal_data_masked"] for f in response.json()["features"])
    assert entries(Action.PERSONAL_READ) == []


def _ticket(loop: dict[str, User], small_city: dict[str, Area]) -> int:
    cell = small_city["440106001001001"]
    response = client_for(loop["hotline"]).post(
        "/api/cases/tickets/",
        {"channel": "phone", "category": event_category("0101").pk, "description": "井盖缺失",
         "address_text": "路口", "lon": cell.geom.centroid.x, "lat": cell.geom.centroid.y,
         "caller_name": "王小明", "caller_phone": "13812345678"},
        format="json", **BROWSER,
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    return int(response.json()["case"]["id"])


def test_the_hotline_reading_a_callers_phone_is_recorded(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    case_id = _ticket(loop, small_city)
    # Filing it answered the hotline with the caller's details: that read is recorded,
    # and so is the write itself.
    (filed,) = entries(Action.REQUEST_WRITE)
    assert (filed.user_id, filed.outcome, filed.detail["status"]) == (
        loop["hotline"].pk, Outcome.SUCCESS, 201,
    )  # fmt: skip
    reads = entries(Action.PERSONAL_READ)
    assert [r.detail["objects"]["incidents.case"]["ids"] for r in reads] == [[str(case_id)]]

    client_for(loop["hotline"]).get(f"/api/cases/{case_id}/")
    assert len(entries(Action.PERSONAL_READ)) == 2
    # The street office sees the phone masked: nothing to record.
    seen = client_for(loop["street"]).get(f"/api/cases/{case_id}/").json()
    assert seen["caller_phone"] == "138****5678"
    assert len(entries(Action.PERSONAL_READ)) == 2


def test_every_case_action_is_recorded_with_its_origin_and_outcome(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    case_id = report(loop["inspector"], small_city).json()["case"]["id"]
    assert act(loop["inspector"], case_id, "file").status_code in (403, 404, 409)
    assert act(loop["street"], case_id, "file").status_code == 200
    writes = entries(Action.REQUEST_WRITE)
    assert [(w.username, w.outcome) for w in writes] == [
        ("inspector", Outcome.SUCCESS),
        ("inspector", writes[1].outcome),
        ("street", Outcome.SUCCESS),
    ]
    assert writes[1].outcome in (Outcome.DENIED, Outcome.FAILED)  # refused, yet traced
    assert [w.object_id for w in writes[1:]] == [str(case_id), str(case_id)]
    assert [w.detail["path"] for w in writes[1:]] == [f"/api/cases/{case_id}/file/"] * 2
    # What the action changed is the case history's to say (not copied here).
    assert list(CaseEvent.objects.filter(case_id=case_id).values_list("action", "actor")) == [
        ("report", loop["inspector"].pk),
        ("file", loop["street"].pk),
    ]


def test_an_intake_records_its_write_in_its_own_transaction(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    client = client_for(loop["inspector"])  # signed in before: that is recorded too
    cell = small_city["440106001001001"]
    body = {"client_uuid": "5b0f3c9e-2d4a-4c1e-8f7a-9e6d5c4b3a21",
            "category": event_category("0101").pk, "description": "路边有一堆暴露垃圾",
            "lon": cell.geom.centroid.x, "lat": cell.geom.centroid.y, "datum": "wgs84"}  # fmt: skip
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/cases/reports/", body, format="json", **BROWSER)
    assert response.status_code == 201, response.json()
    sql = [q["sql"] for q in queries.captured_queries]
    # The view's transaction (a savepoint inside the test's) opens first and closes
    # last; the audit row is written before it closes, not after in a second one.
    (insert,) = [i for i, q in enumerate(sql) if q.startswith('INSERT INTO "audit_auditevent"')]
    opened = next(i for i, q in enumerate(sql) if q.startswith("SAVEPOINT"))
    name = sql[opened].removeprefix("SAVEPOINT ")
    assert opened < insert < sql.index(f"RELEASE SAVEPOINT {name}") == len(sql) - 1
    # Recorded once (the middleware leaves a recorded success out), with its origin.
    (write,) = entries(Action.REQUEST_WRITE)
    assert (write.username, write.outcome, write.ip, write.detail) == (
        "inspector", Outcome.SUCCESS, "10.1.2.3",
        {"method": "POST", "path": "/api/cases/reports/", "status": 201},
    )  # fmt: skip


def test_a_refused_intake_keeps_nothing_but_its_audit_row(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    # Placed, then refused: the point is not in the inspector's cells.
    response = report(loop["inspector"], small_city, cell=OTHER_STREET_CELL)
    assert response.status_code == 400
    assert not Case.objects.exists()
    (write,) = entries(Action.REQUEST_WRITE)
    assert (write.outcome, write.detail["status"]) == (Outcome.FAILED, 400)


def test_under_asgi_an_intake_is_recorded_once(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    # The sync view runs in a thread with a copy of the context: the middleware must
    # still see that the view recorded its success.
    client = AsyncClient()
    client.force_login(loop["inspector"])
    cell = small_city["440106001001001"]
    body = {"client_uuid": "8d1c7a52-6a70-4f4e-9d37-0c3b2b1f6a11",
            "category": event_category("0101").pk, "description": "路边有一堆暴露垃圾",
            "lon": cell.geom.centroid.x, "lat": cell.geom.centroid.y, "datum": "wgs84"}  # fmt: skip
    response = async_to_sync(client.post)(
        "/api/cases/reports/", body, content_type="application/json"
    )
    assert response.status_code == 201, response.json()
    (write,) = entries(Action.REQUEST_WRITE)
    assert (write.ip, write.outcome, write.detail["status"]) == (
        "127.0.0.1", Outcome.SUCCESS, 201,
    )  # fmt: skip


def test_an_export_is_recorded_and_a_json_view_is_not(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    client = client_for(loop["city"])
    query = "start=2026-02-01&end=2026-03-01"
    assert client.get(f"/api/evaluation/street/?{query}").status_code == 200
    assert entries(Action.EXPORT) == []
    for export_format in ("csv", "xlsx"):
        response = client.get(f"/api/evaluation/street/?{query}&format={export_format}", **BROWSER)
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment")
    exports = entries(Action.EXPORT)
    assert [e.detail["format"] for e in exports] == ["csv", "xlsx"]
    assert all(
        (e.user_id, e.ip, e.object_type, e.object_id)
        == (loop["city"].pk, "10.1.2.3", "evaluation", "street")
        for e in exports
    )
    assert exports[0].detail["start"] == "2026-02-01"


def test_admin_changes_are_mirrored_single_and_bulk(cast: dict[str, User]) -> None:
    client = Client(**BROWSER)
    client.force_login(cast["admin"])
    for name in ("temp1", "temp2"):
        response = client.post(
            "/admin/auth/user/add/",
            {"username": name, "usable_password": "false", "password1": "", "password2": ""},
        )
        assert response.status_code == 302, response.content[:500]
    added = entries(Action.ADMIN_ADD)
    assert [(e.object_type, e.detail["repr"]) for e in added] == [
        ("auth.user", "temp1"),
        ("auth.user", "temp2"),
    ]
    assert all((e.user_id, e.ip) == (cast["admin"].pk, "10.1.2.3") for e in added)
    ids = [str(User.objects.get(username=n).pk) for n in ("temp1", "temp2")]
    response = client.post(
        "/admin/auth/user/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert response.status_code == 302
    assert not User.objects.filter(username__in=["temp1", "temp2"]).exists()
    # Two deletions are logged by the admin in one bulk insert (no signal): the request
    # that ran them is the record.
    (bulk,) = [e for e in entries(Action.REQUEST_WRITE) if e.detail.get("action")]
    assert bulk.detail["action"] == "delete_selected"
    assert sorted(bulk.detail["selected"]) == sorted(ids)
    assert (bulk.user_id, bulk.outcome) == (cast["admin"].pk, Outcome.SUCCESS)


def test_superusers_read_the_trail_in_the_admin_and_nobody_changes_it(
    cast: dict[str, User],
) -> None:
    client = Client(**BROWSER)
    client.force_login(cast["admin"])
    event = AuditEvent.objects.create(action=Action.EXPORT, outcome=Outcome.SUCCESS, username="x")
    assert client.get("/admin/audit/auditevent/").status_code == 200
    page = client.get(f"/admin/audit/auditevent/{event.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.post(f"/admin/audit/auditevent/{event.pk}/change/", {}).status_code == 403
    assert (
        client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    staff = Client()
    staff.force_login(cast["data_admin"])
    assert cast["data_admin"].is_staff and not cast["data_admin"].is_superuser
    assert staff.get("/admin/audit/auditevent/").status_code == 403


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_the_purge_removes_only_entries_older_than_the_retention(settings: Settings) -> None:
    now = timezone.now()
    for days in (400, 200, 150, 1):
        AuditEvent.objects.create(
            at=now - dt.timedelta(days=days), action=Action.EXPORT,
            outcome=Outcome.SUCCESS, username=f"{days}d",
        )  # fmt: skip
    settings.AUDIT_RETENTION_DAYS = 365
    call_command("purge_audit", stdout=io.StringIO())
    assert sorted(AuditEvent.objects.values_list("username", flat=True)) == ["150d", "1d", "200d"]
    settings.AUDIT_RETENTION_DAYS = 183
    out = io.StringIO()
    call_command("purge_audit", stdout=out)
    assert "removed 1" in out.getvalue()
    assert sorted(AuditEvent.objects.values_list("username", flat=True)) == ["150d", "1d"]
    settings.AUDIT_RETENTION_DAYS = 30
    with pytest.raises(CommandError, match="183"):
        call_command("purge_audit", stdout=io.StringIO())
    assert [e.id for e in check_audit() if e.id == "audit.E001"] == ["audit.E001"]
    # Even the owner cannot delete a younger entry by hand: the trigger refuses it.
    refused = pytest.raises(DatabaseError, match="append-only")
    with refused, transaction.atomic(using="owner"), connections["owner"].cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE username = '150d'")
    assert AuditEvent.objects.count() == 2


def test_check_warns_when_one_role_owns_everything() -> None:
    def check(**env: str) -> str:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
        result = subprocess.run(
            [sys.executable, "manage.py", "check"], cwd=ROOT, env={**environ, **env},
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        return result.stdout + result.stderr

    assert "audit.W001" not in check()
    assert "audit.W001" in check(
        DATABASE_URL="postgres://gridmgmt:gridmgmt@127.0.0.1:5432/gridmgmt"
    )


def test_behind_a_proxy_the_client_address_is_read_as_the_lockout_reads_it(
    cast: dict[str, User], settings: Settings
) -> None:
    client = Client(REMOTE_ADDR="10.0.0.1")
    settings.PROXY_COUNT = 0  # no proxy: a forged header is ignored
    client.post(
        "/accounts/login/", {"username": "a", "password": "x"}, HTTP_X_FORWARDED_FOR="6.6.6.6"
    )
    settings.PROXY_COUNT = 1
    client.post(
        "/accounts/login/",
        {"username": "b", "password": "x"},
        HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9",
    )
    client.post(
        "/accounts/login/",
        {"username": "c", "password": "x"},
        HTTP_X_FORWARDED_FOR="not-an-address",
    )
    failed = entries(Action.LOGIN_FAILED)
    assert [(e.username, e.ip) for e in failed] == [
        ("a", "10.0.0.1"), ("b", "203.0.113.9"), ("c", None),
    ]  # fmt: skip


def test_under_asgi_the_reads_of_the_view_reach_the_async_middleware(
    cast: dict[str, User], residents: dict[str, Person]
) -> None:
    # The server runs under ASGI: the middleware is async there, the view runs in a
    # thread with a copy of the context, and what it noted must still be written.
    client = AsyncClient()  # its requests come from 127.0.0.1 (the ASGI scope's client)
    client.force_login(cast["admin"])
    response = async_to_sync(client.get)("/api/layers/people/")
    assert response.status_code == 200
    (read,) = entries(Action.PERSONAL_READ)
    assert (read.ip, read.detail["objects"]["layers.person"]["count"]) == ("127.0.0.1", 4)
    write = async_to_sync(client.post)("/api/cases/reports/", {}, content_type="application/json")
    assert write.status_code >= 400
    (refused,) = entries(Action.REQUEST_WRITE)
    assert (refused.ip, refused.detail["status"]) == ("127.0.0.1", write.status_code)
    assert refused.outcome in (Outcome.DENIED, Outcome.FAILED)


def test_the_admins_list_of_people_unmasked_is_recorded_too(
    cast: dict[str, User], residents: dict[str, Person]
) -> None:
    client = Client(**BROWSER)
    client.force_login(cast["admin"])
    response = client.get("/admin/layers/person/")
    assert response.status_code == 200
    assert residents["own"].id_number.encode() in response.content
    (read,) = entries(Action.PERSONAL_READ)
    assert read.detail["path"] == "/admin/layers/person/"
    assert read.detail["objects"]["layers.person"]["count"] == 4
