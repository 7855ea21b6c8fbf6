"""The intake's per-process copies, and its history written in one batch.

dispatch.reference: the catalogue, the stage limits and the calendar's days are copied
per process behind the routing stamp. A report reads the stamp and nothing else of them
while nothing changed; a change by a data administrator (the admin pages, the calendar's
import) or by any other writer (raw SQL, as another process's change looks from here)
gives the stamp a new value in the database, which every process compares its copy with:
the next report sees it.

incidents.history.batched: the entries and live events of a block are written with one
INSERT each when it ends, and are the same rows, in the same order, as one by one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse

from dispatch import calendar, holidays, reference
from dispatch.models import CalendarDay, Stage, StageLimit
from gridmgmt import clock
from incidents.history import batched, record
from incidents.models import Case, CaseEvent, Outbox, State
from layers.models import Area, LimitUnit, Unit, UnitKind
from tests.loop import MONDAY_10, event_category, report


def _file_due(user: User, city: dict[str, Area]) -> dt.datetime:
    response = report(user, city)
    assert response.status_code == 201, response.json()
    return dt.datetime.fromisoformat(response.json()["case"]["file_due_at"])


def _expected_file_due() -> dt.datetime:
    """The 立案 deadline from the tables themselves (no copy): the oracle."""
    limit = StageLimit.objects.get(stage=Stage.FILE)
    return calendar.deadline(clock.now(), limit.limit, limit.unit)


def _admin() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("data-admin", "", "pw"))
    return client


@clock.travel(MONDAY_10, tick=False)
def test_a_report_reads_the_copy_and_the_next_one_sees_each_change(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    inspector = loop["inspector"]
    assert _file_due(inspector, small_city) == _expected_file_due()
    copy = reference.current()
    assert reference.current() is copy  # nothing changed: the same copy, not reloaded
    assert copy.known_until == holidays.known_until()

    # The stage limit edited in the admin: the next report counts the new limit.
    admin = _admin()
    limit = StageLimit.objects.get(stage=Stage.FILE)
    before = _expected_file_due()
    url = reverse("admin:dispatch_stagelimit_change", args=[limit.pk])
    form = {"stage": Stage.FILE, "limit": limit.limit + 2, "unit": LimitUnit.WORKING_HOURS}
    assert admin.post(url, form).status_code == 302
    assert reference.read_stamp() != copy.stamp
    assert _expected_file_due() != before
    assert _file_due(inspector, small_city) == _expected_file_due()

    # Today made a holiday in the admin: the deadline moves to the next working day.
    before = _expected_file_due()
    today = clock.localdate()
    form = {"date": today.isoformat(), "is_workday": "", "name": "临时休假"}
    assert admin.post(reverse("admin:dispatch_calendarday_add"), form).status_code == 302
    assert CalendarDay.objects.filter(date=today, is_workday=False).exists()
    assert _expected_file_due() > before
    assert _file_due(inspector, small_city) == _expected_file_due()
    # … and the answer's "beyond the calendar" reads the copy's last year, as the table's.
    assert reference.current().known_until == holidays.known_until() == dt.date(today.year, 12, 31)

    # A change with raw SQL, no signal, no save(): what another process's change looks
    # like from here. This process's copy is older than the stamp and is not used.
    stale = reference.current()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM dispatch_calendarday WHERE date = %s", [today])
    assert reference.read_stamp() != stale.stamp
    assert _file_due(inspector, small_city) == _expected_file_due()
    assert reference.current() is not stale

    # The category switched off: refused at once, and accepted again once switched on.
    category = event_category("0101")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE layers_category SET active = false WHERE id = %s", [category.pk])
    refused = report(inspector, small_city)
    assert refused.status_code == 400 and refused.json()["field"] == "category"
    with connection.cursor() as cursor:
        cursor.execute("UPDATE layers_category SET active = true WHERE id = %s", [category.pk])
    assert report(inspector, small_city).status_code == 201


def _rows(case: Case) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The case's history and live events, in id order, without ids and times."""
    events = CaseEvent.objects.filter(case=case).order_by("id")
    history = list(events.values_list("action", "from_state", "to_state", "unit_id", "note"))
    live = []
    for row in Outbox.objects.filter(case=case).order_by("id"):
        payload = {**row.payload, "at": None, "case": {**row.payload["case"], "id": None}}
        live.append((row.kind, row.unit_ids, row.user_ids, payload))
    return history, live


def _file_and_dispatch(case: Case, unit: Unit) -> None:
    """Two entries, the second naming a unit the first did not know."""
    case.state = State.FILED
    record(case, action="file", from_state=State.REPORTED, actor=None, staff=None, save=False)
    case.state, case.unit = State.DISPATCHED, unit
    record(case, action="dispatch", from_state=State.FILED, actor=None, staff=None)


def test_a_batch_writes_the_same_rows_in_the_same_order_as_one_by_one(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    one_by_one, together = (
        Case.objects.get(pk=report(loop["inspector"], small_city).json()["case"]["id"])
        for _ in range(2)
    )
    unit = Unit.objects.filter(kind=UnitKind.DEPARTMENT).order_by("pk").first()
    assert unit is not None
    with transaction.atomic():
        _file_and_dispatch(one_by_one, unit)
    with transaction.atomic(), batched():
        _file_and_dispatch(together, unit)
        # Nothing written before the block ends.
        assert CaseEvent.objects.filter(case=together).count() == 1
    history, live = _rows(together)
    assert (history, live) == _rows(one_by_one)
    assert [kind for kind, *_ in live] == ["case.report", "case.file", "case.dispatch"]
    # The file event's audience is the history as it stood: not the unit named after it.
    assert unit.pk not in live[1][1] and unit.pk in live[2][1]
    # Ids in the order recorded, for the history and for the events (their numbers).
    events = list(CaseEvent.objects.filter(case=together).order_by("id"))
    assert [e.action for e in events] == ["report", "file", "dispatch"]


def test_a_batch_that_fails_writes_nothing(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    case = Case.objects.get(pk=report(loop["inspector"], small_city).json()["case"]["id"])
    unit = Unit.objects.filter(kind=UnitKind.DEPARTMENT).order_by("pk").first()
    assert unit is not None
    try:
        with transaction.atomic(), batched():
            _file_and_dispatch(case, unit)
            raise RuntimeError("the block fails")
    except RuntimeError:
        pass
    assert CaseEvent.objects.filter(case=case).count() == 1
    assert Outbox.objects.filter(case=case).count() == 1
