"""巡查 workflows: going on and off duty, each cell's coverage of a day, and the on-duty
inspector nearest a place (dispatch.services.pick_verifier asks it)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _

from gridmgmt import clock
from incidents.errors import Conflict, InvalidInput, NotPermitted
from layers.access import staff_of
from layers.models import Role, Staff
from patrol.ingest import parse_time
from patrol.models import CellCoverage, CoverageDay, Shift
from patrol.partitions import day_bounds

# Two fixes further apart than this are a gap (no signal, phone asleep): the time and
# distance between them are not counted as patrolled.
MAX_GAP: Final = dt.timedelta(minutes=5)
# Today's coverage is computed again on a read when older than this.
COVERAGE_STALE: Final = dt.timedelta(minutes=5)
_COVERAGE_LOCK: Final = 0x70617472  # "patr": the first key of the advisory lock
# An on-duty inspector whose last fix is older than this is not offered for verification.
FRESH: Final = dt.timedelta(minutes=15)


def _inspector(user: Any) -> None:
    staff = staff_of(user)
    if staff is None or staff.role != Role.INSPECTOR:
        raise NotPermitted(_("只有网格员可以上岗巡查。"))


def _when(value: object) -> dt.datetime:
    """The time the phone says the change happened (queued offline), or now."""
    now = clock.now()
    if value is None or value == "":
        return now
    try:
        return parse_time(value, now)
    except ValueError as error:
        raise InvalidInput(str(error), field="at") from None


@transaction.atomic
def duty_start(*, user: Any, at: object = None) -> Shift:
    """上岗. Going on duty while on duty answers the open shift (a resent request)."""
    _inspector(user)
    started = _when(at)
    open_shift = Shift.objects.select_for_update().filter(user=user, ended_at__isnull=True).first()
    if open_shift is not None:
        return open_shift
    last = Shift.objects.filter(user=user).order_by("-started_at").first()
    if last is not None and last.ended_at is not None and last.ended_at > started:
        raise Conflict(_("上岗时间早于上一次下岗时间。"), field="at")
    try:
        with transaction.atomic():
            return Shift.objects.create(user=user, started_at=started)
    except IntegrityError:  # a second request raced this one: one open shift stays
        return Shift.objects.get(user=user, ended_at__isnull=True)


@transaction.atomic
def duty_end(*, user: Any, at: object = None) -> Shift | None:
    """下岗. Going off duty while off duty changes nothing (a resent request): None."""
    _inspector(user)
    ended = _when(at)
    shift = Shift.objects.select_for_update().filter(user=user, ended_at__isnull=True).first()
    if shift is None:
        return None
    shift.ended_at = max(ended, shift.started_at, shift.last_at or shift.started_at)
    shift.save(update_fields=["ended_at"])
    return shift


def open_shift(user: Any) -> Shift | None:
    return Shift.objects.filter(user=user, ended_at__isnull=True).first()


# --- Coverage ------------------------------------------------------------------------

COVERAGE = """
WITH fix AS (
    SELECT p.user_id, p.at, p.geom,
           lag(p.at) OVER w AS prev_at, lag(p.geom) OVER w AS prev_geom
    FROM patrol_position p
    WHERE p.at >= %(start)s AND p.at < %(end)s
    WINDOW w AS (PARTITION BY p.user_id, p.shift_id ORDER BY p.at)
), placed AS (
    SELECT DISTINCT ON (fix.user_id, fix.at) fix.*, piece.area_id AS cell_id
    FROM fix JOIN layers_areapiece piece
      ON piece.tier = 'cell' AND ST_Covers(piece.geom, fix.geom)
    ORDER BY fix.user_id, fix.at, piece.area_id
), step AS (
    SELECT cell_id, user_id,
           CASE WHEN at - prev_at <= %(gap)s THEN extract(epoch FROM at - prev_at) END AS s,
           CASE WHEN at - prev_at <= %(gap)s
                THEN ST_Distance(prev_geom::geography, geom::geography) END AS m
    FROM placed
)
INSERT INTO patrol_cellcoverage (cell_id, day, minutes, km, positions, inspectors)
SELECT cell_id, %(day)s, coalesce(sum(s), 0) / 60.0, coalesce(sum(m), 0) / 1000.0,
       count(*), count(DISTINCT user_id)
FROM step GROUP BY cell_id
"""


@transaction.atomic
def coverage_compute(*, day: dt.date) -> int:
    """Recompute every cell's coverage of local `day` from the track; returns the
    number of cells visited. A step between two fixes counts for the cell of its later
    fix; steps longer than MAX_GAP count as not patrolled."""
    start, end = day_bounds(day)
    with connection.cursor() as cursor:
        # Two computations of one day at once would both insert its rows: one waits.
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_COVERAGE_LOCK, day.toordinal()])
    CellCoverage.objects.filter(day=day).delete()
    CoverageDay.objects.update_or_create(day=day, defaults={"computed_at": clock.now()})
    with connection.cursor() as cursor:
        params: dict[str, Any] = {"start": start, "end": end, "gap": MAX_GAP, "day": day}
        cursor.execute(COVERAGE, params)
        return max(cursor.rowcount, 0)


def coverage_current(*, day: dt.date) -> None:
    """Make sure `day`'s coverage is there: a past day computed once (after the day),
    today's no older than COVERAGE_STALE."""
    now = clock.now()
    done = CoverageDay.objects.filter(day=day).values_list("computed_at", flat=True).first()
    _, end = day_bounds(day)
    if done is None or (done < end and done < now - COVERAGE_STALE):
        coverage_compute(day=day)


# --- Verification hook ----------------------------------------------------------------


def nearest_on_duty(
    *, community_id: int, lon: float, lat: float, exclude: int | None
) -> int | None:
    """The active inspector on duty now, with a cell in the community, whose last fix
    (within FRESH) is nearest the point (storage SRID); None if there is none."""
    cells = Staff.cells.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT sh.user_id
            FROM patrol_shift sh
            JOIN auth_user u ON u.id = sh.user_id AND u.is_active
            JOIN layers_staff s ON s.user_id = sh.user_id AND s.role = %s
            WHERE sh.ended_at IS NULL AND sh.last_at >= %s
              AND sh.user_id IS DISTINCT FROM %s
              AND EXISTS (SELECT 1 FROM {cells} own JOIN layers_area cell ON cell.id = own.area_id
                          WHERE own.staff_id = s.id AND cell.parent_id = %s)
            ORDER BY ST_Distance(sh.last_geom::geography,
                                 ST_SetSRID(ST_MakePoint(%s, %s), {settings.GRID_SRID})::geography),
                     sh.user_id
            LIMIT 1""",
            [Role.INSPECTOR.value, clock.now() - FRESH, exclude, community_id, lon, lat],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else None
