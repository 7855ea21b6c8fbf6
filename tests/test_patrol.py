"""巡查: duty on and off, position batches (checked, converted, partitioned by day, stored
once), each cell's coverage of a day, who may read tracks (audited), the retention purge,
inspector figures, and the verification hook preferring the nearest inspector on duty."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.contrib.gis.geos import Point
from django.core.management import call_command
from django.db import connection, connections
from django.utils import timezone
from pytest_django.fixtures import Settings

from audit.models import Action, AuditEvent
from dispatch.services import pick_verifier
from gridmgmt import clock
from incidents.models import Case
from layers.datum import Datum, from_wgs84
from layers.models import Area
from patrol.ingest import MAX_POSITIONS
from patrol.models import CellCoverage, CoverageDay, Shift
from patrol.partitions import (
    day_bounds,
    ensure_partitions,
    local_day,
    partition_name,
    partitions,
)
from tests.loop import client_for

# Mid-day in Asia/Shanghai, time moving: a test's walk of a few minutes stays inside
# one local day (days are the track's partitions and coverage's unit).
MIDDAY = dt.datetime(2026, 12, 3, 4, 0, tzinfo=dt.UTC)
OWN = "440106001001001"  # one of the demo inspector's cells (tests/cities.py)
OTHER_DISTRICT = "440104001001001"


@pytest.fixture(autouse=True)
def midday() -> Iterator[None]:
    with clock.travel(MIDDAY, tick=True):
        yield


def inside(cell: Area, fx: float, fy: float) -> tuple[float, float]:
    """A point at fractions (fx, fy) of the cell's box, in WGS 84."""
    x0, y0, x1, y1 = cell.geom.extent
    return x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)


def walk(cell: Area, start: dt.datetime, n: int, every_s: int = 10) -> list[dict[str, Any]]:
    """n fixes walking west to east through the cell's middle, every `every_s` seconds."""
    fixes = []
    for i in range(n):
        lon, lat = inside(cell, 0.1 + 0.8 * i / max(n - 1, 1), 0.5)
        at = start + dt.timedelta(seconds=every_s * i)
        fixes.append({"at": at.isoformat(), "lon": lon, "lat": lat, "accuracy_m": 8})
    return fixes


def on_duty(user: User, at: dt.datetime | None = None) -> Any:
    body = {"on": True} | ({"at": at.isoformat()} if at else {})
    return client_for(user).post("/api/patrol/duty/", body, format="json")


def send(user: User, positions: list[Any], datum: str = "wgs84") -> Any:
    body = {"datum": datum, "positions": positions}
    return client_for(user).post("/api/patrol/positions/", body, format="json")


def stored(user: User) -> list[tuple[dt.datetime, float, float]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT at, ST_X(geom), ST_Y(geom) FROM patrol_position WHERE user_id = %s ORDER BY at",
            [user.pk],
        )
        return cursor.fetchall()


# --- Duty --------------------------------------------------------------------------------


def test_it_goes_on_and_off_duty_and_a_resent_request_changes_nothing(
    cast: dict[str, User],
) -> None:
    inspector = cast["inspector"]
    client = client_for(inspector)
    assert client.get("/api/patrol/duty/").json() == {"on_duty": False, "shift": None}
    first = on_duty(inspector).json()
    again = on_duty(inspector).json()
    assert first["on_duty"] is True and again["shift"]["id"] == first["shift"]["id"]
    assert Shift.objects.filter(user=inspector, ended_at__isnull=True).count() == 1
    off = client.post("/api/patrol/duty/", {"on": False}, format="json")
    assert off.json() == {"on_duty": False, "shift": None}
    assert client.post("/api/patrol/duty/", {"on": False}, format="json").status_code == 200
    shift = Shift.objects.get(user=inspector)
    assert shift.ended_at is not None and shift.ended_at >= shift.started_at


def test_only_inspectors_go_on_duty_and_bad_input_has_the_error_shape(
    cast: dict[str, User],
) -> None:
    refused = on_duty(cast["street"])
    assert refused.status_code == 403 and refused.json()["code"] == "not_permitted"
    bad = client_for(cast["inspector"]).post("/api/patrol/duty/", {"on": "yes"}, format="json")
    assert bad.status_code == 400
    assert bad.json() == {"detail": bad.json()["detail"], "code": "invalid", "field": "on"}
    late = on_duty(cast["inspector"], clock.now() - dt.timedelta(days=5))
    assert late.status_code == 400 and late.json()["field"] == "at"
    assert not Shift.objects.exists()


# --- Positions ---------------------------------------------------------------------------


def test_a_batch_is_stored_in_its_days_partition_converted_from_gcj02_and_only_once(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    inspector = cast["inspector"]
    start = clock.now() - dt.timedelta(minutes=5)
    on_duty(inspector, start - dt.timedelta(minutes=1))
    fixes = walk(small_city[OWN], start, 20)
    wgs = [(f["lon"], f["lat"]) for f in fixes]
    gx, gy = from_wgs84([p[0] for p in wgs], [p[1] for p in wgs], Datum.GCJ02)
    for fix, x, y in zip(fixes, gx, gy, strict=True):
        fix["lon"], fix["lat"] = float(x), float(y)
    response = send(inspector, fixes, "gcj02")
    assert response.status_code == 200
    assert response.json() == {"received": 20, "stored": 20, "duplicates": 0, "rejected": []}
    rows = stored(inspector)
    assert len(rows) == 20
    assert np.allclose([(r[1], r[2]) for r in rows], wgs, atol=1e-6)  # back in WGS 84
    assert local_day(start) in partitions()
    with connection.cursor() as cursor:  # the rows live in the day's partition
        cursor.execute(f"SELECT count(*) FROM {partition_name(local_day(rows[0][0]))}")
        assert cursor.fetchone()[0] >= 1
    again = send(inspector, fixes, "gcj02").json()  # the offline queue resends the batch
    assert (again["stored"], again["duplicates"]) == (0, 20)
    assert len(stored(inspector)) == 20
    shift = Shift.objects.get(user=inspector)
    assert shift.last_at is not None and shift.last_geom is not None
    assert abs(shift.last_geom.x - wgs[-1][0]) < 1e-6


def test_bad_positions_are_rejected_with_reasons_and_the_good_ones_stored(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    inspector = cast["inspector"]
    now = clock.now()
    on_duty(inspector, now - dt.timedelta(hours=1))
    lon, lat = inside(small_city[OWN], 0.5, 0.5)
    good = {"at": now.isoformat(), "lon": lon, "lat": lat}
    batch = [
        good,
        {"at": now.isoformat(), "lon": "NaN", "lat": lat},
        {"at": now.isoformat(), "lon": 1e308, "lat": lat},
        {"at": now.isoformat(), "lon": lon, "lat": 91},
        {"at": (now - dt.timedelta(days=3)).isoformat(), "lon": lon, "lat": lat},
        {"at": (now + dt.timedelta(hours=1)).isoformat(), "lon": lon, "lat": lat},
        {"at": "2026-01-01T10:00:00", "lon": lon, "lat": lat},
        {"at": (now - dt.timedelta(hours=3)).isoformat(), "lon": lon, "lat": lat},
        "POINT(1 2)",
        {
            "at": (now - dt.timedelta(seconds=1)).isoformat(),
            "lon": lon,
            "lat": lat,
            "accuracy_m": -1,
        },
        {"at": int((now - dt.timedelta(seconds=2)).timestamp() * 1000), "lon": 10.0, "lat": 10.0},
    ]
    response = send(inspector, batch, "gcj02")  # 10,10 is outside GCJ-02's area
    assert response.status_code == 200
    body = response.json()
    rejected = {r["index"]: r for r in body["rejected"]}
    assert (body["received"], body["stored"]) == (11, 1)
    assert sorted(rejected) == list(range(1, 11))
    codes = {i: (r["code"], r["field"]) for i, r in rejected.items()}
    assert codes == {
        1: ("invalid_coordinates", "lon"), 2: ("invalid_coordinates", "lon"),
        3: ("invalid_coordinates", "lat"), 4: ("invalid_time", "at"), 5: ("invalid_time", "at"),
        6: ("invalid_time", "at"), 7: ("off_duty", "at"), 8: ("invalid", "positions"),
        9: ("invalid_coordinates", "accuracy_m"), 10: ("invalid_coordinates", "lon"),
    }  # fmt: skip
    assert all(set(r) == {"index", "detail", "code", "field"} for r in rejected.values())
    assert all(r["detail"] for r in rejected.values())
    assert len(stored(inspector)) == 1


def test_a_malformed_batch_is_refused_whole_in_the_error_shape(cast: dict[str, User]) -> None:
    inspector = cast["inspector"]
    on_duty(inspector)
    fix = {"at": clock.now().isoformat(), "lon": 113.3, "lat": 23.1}
    cases = [
        ({"datum": "wgs84", "positions": [fix] * (MAX_POSITIONS + 1)}, "positions"),
        ({"datum": "mars", "positions": [fix]}, "datum"),
        ({"datum": "wgs84", "positions": "all"}, "positions"),
        ({"datum": "wgs84", "positions": []}, "positions"),
    ]
    for body, field in cases:
        response = client_for(inspector).post("/api/patrol/positions/", body, format="json")
        assert response.status_code == 400, body
        assert response.json()["field"] == field and response.json()["code"] == "invalid"
    assert stored(inspector) == []


# --- Coverage ----------------------------------------------------------------------------


def test_coverage_counts_minutes_and_km_per_cell_and_lists_unvisited_cells(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    inspector = cast["inspector"]
    start = clock.now() - dt.timedelta(minutes=10)
    on_duty(inspector, start - dt.timedelta(minutes=1))
    send(inspector, walk(small_city[OWN], start, 31))  # 300 s across the cell
    response = client_for(cast["street"]).get("/api/patrol/coverage/")
    assert response.status_code == 200
    body = response.json()
    rows = {r["code"]: r for r in body["results"]}
    assert body["cells"] == 8 and body["visited"] == 1  # the street's cells
    own = rows[OWN]
    assert own["visited"] and own["minutes"] == pytest.approx(5.0, abs=0.01)
    cell = small_city[OWN]
    width_km = 0.8 * (cell.geom.extent[2] - cell.geom.extent[0]) * 111.32 * np.cos(np.radians(23.1))
    assert own["km"] == pytest.approx(width_km, rel=0.02)
    assert rows["440106001002001"] == rows["440106001002001"] | {"visited": False, "km": 0.0}
    day = CellCoverage.objects.get(cell=cell)
    assert day.positions == 31 and day.inspectors == 1
    assert OTHER_DISTRICT not in rows  # outside the street's area


def test_coverage_is_paged_and_filtered_by_visited_with_each_cells_point(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    inspector = cast["inspector"]
    start = clock.now() - dt.timedelta(minutes=10)
    on_duty(inspector, start - dt.timedelta(minutes=1))
    send(inspector, walk(small_city[OWN], start, 7))
    send(inspector, walk(small_city["440106001001002"], start + dt.timedelta(minutes=2), 7))
    district = client_for(cast["district"])
    first = district.get("/api/patrol/coverage/?page_size=5").json()
    assert (first["cells"], first["visited"], first["count"], first["page"]) == (16, 2, 16, 1)
    codes = [row["code"] for row in first["results"]]
    assert len(codes) == 5 and codes == sorted(codes)
    assert first["previous"] is None and "page=2" in first["next"]
    last = district.get(first["next"].replace("page=2", "page=4")).json()
    assert len(last["results"]) == 1 and last["next"] is None and "page=3" in last["previous"]
    visited = district.get("/api/patrol/coverage/?visited=true").json()
    assert visited["count"] == 2 and visited["cells"] == 16 and visited["next"] is None
    assert [row["code"] for row in visited["results"]] == [OWN, "440106001001002"]
    for row in visited["results"]:
        cell = small_city[row["code"]]
        assert row["visited"] and row["minutes"] > 0
        assert cell.geom.contains(Point(row["lon"], row["lat"], srid=4326))
    quiet = district.get("/api/patrol/coverage/?visited=false&page_size=100").json()
    assert quiet["count"] == 14 and not any(row["visited"] for row in quiet["results"])
    for query, field in (("visited=maybe", "visited"), ("page_size=0", "page_size"),
                         ("page_size=5001", "page_size"), ("page=x", "page")):  # fmt: skip
        bad = district.get(f"/api/patrol/coverage/?{query}")
        assert bad.status_code == 400 and bad.json()["field"] == field


def test_a_gap_in_the_track_is_not_counted_as_patrolled(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    inspector = cast["inspector"]
    start = clock.now() - dt.timedelta(minutes=30)
    on_duty(inspector, start - dt.timedelta(minutes=1))
    fixes = walk(small_city[OWN], start, 2, every_s=20 * 60)  # 20 minutes apart
    send(inspector, fixes)
    call_command("patrol_coverage", "--day", local_day(start).isoformat(), stdout=io.StringIO())
    row = CellCoverage.objects.get(cell=small_city[OWN])
    assert (row.minutes, row.km, row.positions) == (0.0, 0.0, 2)


# --- Who sees tracks ---------------------------------------------------------------------


def test_a_track_is_seen_by_the_inspector_and_their_street_and_district_only_and_audited(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    inspector = cast["inspector"]
    start = clock.now() - dt.timedelta(minutes=5)
    on_duty(inspector, start - dt.timedelta(minutes=1))
    send(inspector, walk(small_city[OWN], start, 5))
    path = f"/api/patrol/tracks/{inspector.pk}/"
    for name in ("inspector", "street", "district"):
        before = AuditEvent.objects.filter(action=Action.PERSONAL_READ).count()
        response = client_for(cast[name]).get(path)
        assert response.status_code == 200, name
        (line,) = response.json()["features"]
        assert len(line["geometry"]["coordinates"]) == 5
        reads = AuditEvent.objects.filter(action=Action.PERSONAL_READ).order_by("id")[before:]
        assert [r.detail["objects"] for r in reads] == [
            {"patrol.track": {"count": 1, "ids": [str(inspector.pk)]}}
        ], name
    for name in ("inspector2", "city", "leader", "hotline", "department", "data_admin", "admin"):
        response = client_for(cast[name]).get(path)
        assert response.status_code == 404, name
        assert response.json()["code"] == "not_found"
    seen = client_for(cast["district"]).get("/api/patrol/on-duty/").json()
    assert [r["username"] for r in seen["results"]] == ["inspector"]
    assert seen["results"][0]["lon"] == pytest.approx(walk(small_city[OWN], start, 5)[-1]["lon"])
    assert client_for(cast["city"]).get("/api/patrol/on-duty/").json()["count"] == 0


# --- Retention ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, databases=["default", "owner"])
def test_the_purge_drops_whole_days_past_the_retention_and_keeps_the_rest(
    settings: Settings,
) -> None:
    settings.PATROL_RETENTION_DAYS = 30
    today = local_day(clock.now())
    old, kept = today - dt.timedelta(days=31), today - dt.timedelta(days=30)
    ensure_partitions([old, kept, today])  # as the application role, as ingest does
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO patrol_position (user_id, shift_id, at, geom) "
            "VALUES (1, 1, %s, ST_SetSRID(ST_MakePoint(113.3, 23.1), 4326))",
            [dt.datetime.combine(old, dt.time(12), tzinfo=timezone.get_current_timezone())],
        )
    out = io.StringIO()
    call_command("patrol_purge", "--dry-run", stdout=out)
    assert partition_name(old) in out.getvalue() and old in partitions()
    call_command("patrol_purge", stdout=io.StringIO())
    left = partitions()
    assert old not in left and kept in left and today in left
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM patrol_position WHERE at < %s", [day_bounds(kept)[0]])
        assert cursor.fetchone()[0] == 0  # the old day's rows went with their partition


# --- Figures -----------------------------------------------------------------------------


def test_inspector_figures_give_hours_km_and_reports(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    inspector = cast["inspector"]
    now = clock.now()
    start = now - dt.timedelta(hours=1)
    if local_day(start) != local_day(now):
        start = now - dt.timedelta(minutes=1)  # just after midnight: stay in one day
    on_duty(inspector, start)
    send(inspector, walk(small_city[OWN], start + dt.timedelta(seconds=5), 11, every_s=5))
    response = client_for(cast["street"]).get("/api/patrol/figures/")
    assert response.status_code == 200
    rows = {r["username"]: r for r in response.json()["results"]}
    assert set(rows) == {"inspector", "inspector2"}
    mine = rows["inspector"]
    assert mine["on_duty_hours"] == pytest.approx((now - start).total_seconds() / 3600, abs=0.01)
    assert mine["km"] > 0.5 and rows["inspector2"]["km"] == 0
    assert (mine["reports"], mine["case_share"]) == (0, None)
    bad = client_for(cast["street"]).get("/api/patrol/figures/?first=2026-02-30")
    assert bad.status_code == 400 and bad.json()["field"] == "first"


# --- Verification hook -------------------------------------------------------------------


def test_verification_goes_to_the_nearest_inspector_on_duty_in_the_community(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    cell = small_city[OWN]
    lon, lat = inside(cell, 0.5, 0.5)
    assert cell.parent_id is not None
    case = Case(
        community_id=cell.parent_id, cell_id=cell.pk, reporter=None,
        geom=cell.geom.centroid,
    )  # fmt: skip
    assert pick_verifier(case, handler_id=None) == cast["inspector"].pk  # the cell's own
    second = cast["inspector2"]  # has a cell in the same community, none in this cell
    on_duty(second)
    send(second, [{"at": clock.now().isoformat(), "lon": lon, "lat": lat}])
    assert pick_verifier(case, handler_id=None) == second.pk
    on_duty(cast["inspector"])  # on duty too, but its last fix is far away
    far = inside(small_city["440106001002001"], 0.5, 0.5)
    send(cast["inspector"], [{"at": clock.now().isoformat(), "lon": far[0], "lat": far[1]}])
    assert pick_verifier(case, handler_id=None) == second.pk
    Shift.objects.filter(user=second).update(last_at=clock.now() - dt.timedelta(hours=1))
    assert pick_verifier(case, handler_id=None) == cast["inspector"].pk  # stale fix: not offered


def test_todays_coverage_is_recomputed_once_stale_and_a_past_days_kept(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    inspector = cast["inspector"]
    start = clock.now() - dt.timedelta(minutes=10)
    on_duty(inspector, start - dt.timedelta(minutes=1))
    send(inspector, walk(small_city[OWN], start, 7))
    street = client_for(cast["street"])
    assert street.get("/api/patrol/coverage/").json()["visited"] == 1
    later = walk(small_city["440106001001002"], start + dt.timedelta(minutes=2), 7)
    send(inspector, later)
    assert street.get("/api/patrol/coverage/").json()["visited"] == 1  # fresh: not redone
    CoverageDay.objects.update(computed_at=clock.now() - dt.timedelta(minutes=6))
    assert street.get("/api/patrol/coverage/").json()["visited"] == 2
    yesterday = (local_day(clock.now()) - dt.timedelta(days=1)).isoformat()
    past = street.get(f"/api/patrol/coverage/?day={yesterday}").json()
    assert (past["cells"], past["visited"]) == (8, 0)
    assert CoverageDay.objects.filter(day=yesterday).exists()


def test_coverage_lists_the_cells_of_the_users_area_an_inspector_their_own(
    cast: dict[str, User], small_city: dict[str, Area]
) -> None:
    def cells(name: str) -> set[str]:
        body = client_for(cast[name]).get("/api/patrol/coverage/").json()
        return {row["code"] for row in body["results"]}

    assert cells("inspector") == {OWN, "440106001001002", "440106001001003"}
    assert len(cells("street")) == 8 and len(cells("district")) == 16
    assert len(cells("city")) == 32  # the whole city: coverage holds no positions


@pytest.mark.django_db(transaction=True)
def test_servers_creating_a_new_days_partition_at_once_all_succeed() -> None:
    """Each writer first looks for the day's partition, then waits its turn to create it:
    the one after the creator must see the new table (a stale answer from its first look
    made it try again and fail with "already exists")."""
    day = local_day(clock.now()) + dt.timedelta(days=400)
    writers = 6
    together = Barrier(writers)

    def create() -> list[str]:
        try:
            together.wait()
            return ensure_partitions([day])
        finally:
            connections.close_all()

    for _ in range(3):
        with ThreadPoolExecutor(writers) as pool:
            created = [
                name for names in pool.map(lambda _: create(), range(writers)) for name in names
            ]
        assert created == [partition_name(day)]
        assert day in partitions()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {partition_name(day)}")
