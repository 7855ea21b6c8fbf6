"""Query counts of intake, pinned (an N+1 comes back as a failing number): an inspector's
report with and without likely duplicates nearby, with and without 自动立案派遣, the
likely-duplicates endpoint, and the numbering of the events after commit. Counted from
the request on, the client signed in before; SAVEPOINT/RELEASE statements count too."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import DjangoCaptureOnCommitCallbacks

from incidents.models import Case, Outbox
from layers.models import Area
from tests.cast import centre
from tests.loop import INSPECTOR_CELL, client_for, event_category, report

# 0101 暴露垃圾 waits for a dispatcher; 0501 (街面秩序) is filed and dispatched at intake
# by the demo's first rule.
WAITING, AUTO = "0101", "0501"
# (category, earlier reports nearby) → queries of the request. One transaction: the
# deadlines that run from the intake are in the case's INSERT (no UPDATE of it after),
# and the request's audit row is written inside it (audit.middleware.atomic_write);
# 自动立案派遣 saves the case once for its two history entries (filed, dispatched), and the
# three entries and three live events are written with one INSERT each. Routing
# runs in the intake's savepoint, on the case it just inserted: no savepoint of its own,
# no lock of the row. The category, the 立案 stage limit and the calendar's days (the
# deadlines', and the last year the answer shows) come from the process's copy behind
# the routing stamp (dispatch.reference): the stamp is read once, nothing else of them.
EXPECTED = {
    (WAITING, 0): 15,
    (WAITING, 2): 15,
    (AUTO, 0): 17,
    (AUTO, 2): 17,
}


def body(city: dict[str, Area], category: str) -> dict[str, object]:
    import uuid

    point = centre(city[INSPECTOR_CELL])
    return {
        "client_uuid": str(uuid.uuid4()),
        "category": event_category(category).pk,
        "description": "路边有一堆暴露垃圾",
        "lon": point.x,
        "lat": point.y,
        "datum": "wgs84",
    }


@pytest.mark.parametrize(("category", "earlier"), list(EXPECTED))
def test_intake_query_count(
    loop: dict[str, User], small_city: dict[str, Area], category: str, earlier: int
) -> None:
    # A report of the other class first: the process's caches (spatial reference, the
    # calendar's last year, the routing rules) are warm, and it is no duplicate.
    other = AUTO if category == WAITING else WAITING
    assert report(loop["inspector"], small_city, category=other).status_code == 201
    for _ in range(earlier):
        assert report(loop["inspector"], small_city, category=category).status_code == 201
    client = client_for(loop["inspector"])
    data = body(small_city, category)  # the test's own lookup of the category, not counted
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/cases/reports/", data, format="json")
    assert response.status_code == 201, response.json()
    assert len(response.json()["likely_duplicates"]) == earlier
    state = "dispatched" if category == AUTO else "reported"
    assert response.json()["case"]["state"] == state
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) == EXPECTED[(category, earlier)], "\n".join(s[:120] for s in sql)
    # One statement for all the case's history entries and one for all its live events
    # (auto-dispatch: three of each, written together as the intake's savepoint ends),
    # no counter: the number comes after commit.
    assert sum("INSERT INTO incidents_outbox" in s for s in sql) == 1
    assert sum('INSERT INTO "incidents_caseevent"' in s for s in sql) == 1
    assert not any("outboxcounter" in s for s in sql)
    # The case: one INSERT, and one UPDATE when it is filed and dispatched at intake.
    updates = [s for s in sql if s.startswith('UPDATE "incidents_case"')]
    assert len(updates) == (category == AUTO)
    # … of the columns filing and dispatching changed, not the row's ~70 (the geometry).
    assert not any('"geom"' in s or '"description"' in s for s in updates)
    # No lock of the row the request inserted. The routing stamp read once; the
    # catalogue, the stage limits and the calendar not at all (not even its last year,
    # MAX(date), for the answer's deadline): the process's copy is of that stamp.
    assert not any("FOR UPDATE" in s for s in sql)
    assert sum("dispatch_routing_stamp" in s for s in sql) == 1
    copied = ('"layers_category"', '"dispatch_stagelimit"', '"dispatch_calendarday"')
    assert not [s for s in sql if any(table in s for table in copied)]


def test_likely_duplicates_endpoint_query_count(
    loop: dict[str, User], small_city: dict[str, Area]
) -> None:
    ids = [report(loop["inspector"], small_city).json()["case"]["id"] for _ in range(4)]
    client = client_for(loop["street"])
    # The process's cache of the spatial reference warm, as the intake's answer left it
    # before it stopped reading it (incidents.duplicates.likely_duplicates_seen_by).
    Case._meta.get_field("geom").geodetic(connection)  # type: ignore[attr-defined]
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/cases/{ids[-1]}/duplicates/")
    assert response.status_code == 200
    assert sorted(c["id"] for c in response.json()) == sorted(ids[:-1])
    # Session, user and post, the case with its areas and users, then the candidates in
    # one query: none of their foreign keys (that was 6 more queries per candidate).
    assert len(queries.captured_queries) == 9, [q["sql"][:120] for q in queries]


def test_numbering_after_commit_is_one_short_transaction(
    loop: dict[str, User],
    small_city: dict[str, Area],
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    client = client_for(loop["inspector"])
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/api/cases/reports/", body(small_city, AUTO), format="json")
    assert response.status_code == 201
    assert Outbox.objects.filter(seq__isnull=True).count() == 3
    with CaptureQueriesContext(connection) as queries:
        for callback in callbacks:
            callback()
    # One pass for the report's transaction, auto-dispatch included (it runs in the
    # intake's savepoint): SAVEPOINT (the test's transaction stands for the commit), the
    # advisory lock tried, the numbering statement, RELEASE; then the look for events
    # committed meanwhile. It numbers all three events.
    assert len(callbacks) == 1
    sql = [q["sql"] for q in queries.captured_queries]
    assert len(sql) == 5, sql
    assert "pg_try_advisory_xact_lock" in sql[1]
    assert "seq IS NULL" in sql[4]
    assert not Outbox.objects.filter(seq__isnull=True).exists()
    case = Case.objects.get(pk=response.json()["case"]["id"])
    kinds = Outbox.objects.filter(case=case).order_by("seq").values_list("kind", "seq")
    first = kinds[0][1]
    assert list(kinds) == [
        ("case.report", first), ("case.file", first + 1), ("case.dispatch", first + 2)
    ]  # fmt: skip
