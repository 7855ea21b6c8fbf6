"""Position batches from inspectors' phones: checked, converted to the storage datum and
written in one statement.

A batch is {"datum": "gcj02", "positions": [{"at", "lon", "lat", "accuracy_m"?}, ...]}.
The batch itself must be well formed (else the whole request is refused in the API's
error shape); each position is then checked on its own and a bad one is rejected with its
index and reason in that same shape, while the good ones are stored: a phone's offline
queue must not be blocked for ever by one bad fix. Checks, in order:

- at most MAX_POSITIONS positions per batch (the view also caps the body's size);
- `at`: ISO 8601 with a UTC offset, or milliseconds since the epoch; not older than
  MAX_AGE (an offline queue's backlog) nor later than MAX_AHEAD (clock skew);
- `lon`/`lat`: numbers as layers.geoinput reads them, in range and inside the batch
  datum's area (layers.datum), converted to WGS 84 in one vectorised step;
- `accuracy_m`: optional, 0..MAX_ACCURACY_M;
- the time falls in one of the inspector's shifts on duty.

No geometry object is built: the points are made by PostGIS from checked floats."""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext as _

from gridmgmt import clock
from incidents.errors import InvalidInput
from layers.datum import Datum, UnknownDatum, parse_datum, to_wgs84
from layers.geoinput import (
    BadCoordinates,
    check_latitude,
    check_longitude,
    lonlat_reasons,
    parse_number,
)
from patrol.models import Shift
from patrol.partitions import ensure_partitions, local_day

MAX_POSITIONS: Final = 1000
MAX_AGE: Final = dt.timedelta(hours=48)
MAX_AHEAD: Final = dt.timedelta(minutes=5)
MAX_ACCURACY_M: Final = 10_000.0
# A phone's clock and the server's differ a little: a fix this close to a shift's start
# or end counts as inside it.
SHIFT_SLACK: Final = dt.timedelta(minutes=2)
_EPOCH_MS_MAX: Final = 10**14  # the year 5138: anything longer is not a time


@dataclass
class Rejected:
    index: int
    detail: str
    code: str
    field: str

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "detail": self.detail, "code": self.code, "field": self.field}


@dataclass
class IngestResult:
    received: int
    stored: int
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.received - len(self.rejected) - self.stored


@dataclass
class _Rows:
    index: list[int] = field(default_factory=list)
    at: list[dt.datetime] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    lat: list[float] = field(default_factory=list)
    accuracy: list[float | None] = field(default_factory=list)


def batch_positions(data: Any) -> tuple[Datum, list[Any]]:
    """The batch's datum and its list of positions, or InvalidInput for the whole batch."""
    if not isinstance(data, dict):
        raise InvalidInput(_("请求体应为 JSON 对象。"))
    try:
        datum = parse_datum(str(data.get("datum", "wgs84"))[:20])
    except UnknownDatum:
        raise InvalidInput(
            _("不支持的坐标系：请用 wgs84、gcj02、bd09 或 cgcs2000。"), field="datum"
        ) from None
    positions = data.get("positions")
    if not isinstance(positions, list) or not positions:
        raise InvalidInput(_("positions 应为非空的定位点列表。"), field="positions")
    if len(positions) > MAX_POSITIONS:
        raise InvalidInput(
            _("一批最多 %(max)d 个定位点，本批有 %(count)d 个。")
            % {"max": MAX_POSITIONS, "count": len(positions)},
            field="positions",
        )
    return datum, positions


def parse_time(value: object, now: dt.datetime) -> dt.datetime:
    """A fix's time: ISO 8601 with an offset, or epoch milliseconds; within the window."""
    at: dt.datetime | None = None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _EPOCH_MS_MAX:
        at = dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
    elif isinstance(value, str) and len(value) <= 40:
        try:
            at = dt.datetime.fromisoformat(value)
        except ValueError:
            at = None
        if at is not None and at.tzinfo is None:
            raise ValueError(_("at 须带时区（如 +08:00 或 Z）。"))
    if at is None:
        raise ValueError(_("at 应为带时区的 ISO 8601 时间或毫秒时间戳。"))
    if at < now - MAX_AGE:
        raise ValueError(
            _("定位时间过早：只接收 %(hours)d 小时内的定位。")
            % {"hours": MAX_AGE.total_seconds() // 3600}
        )
    if at > now + MAX_AHEAD:
        raise ValueError(_("定位时间晚于服务器时间：请校准手机时间。"))
    return at


def _accuracy(value: object) -> float | None:
    if value is None:
        return None
    number = parse_number(value, field="accuracy_m")
    if not 0 <= number <= MAX_ACCURACY_M:
        raise BadCoordinates(
            _("accuracy_m 应在 0 到 %(max)d 米之间。") % {"max": MAX_ACCURACY_M},
            field="accuracy_m",
        )
    return number


def _read_rows(positions: list[Any], now: dt.datetime, rejected: list[Rejected]) -> _Rows:
    """Steps that need each value on its own: types, numbers, times, ranges."""
    rows = _Rows()
    for i, item in enumerate(positions):
        if not isinstance(item, dict):
            rejected.append(Rejected(i, _("定位点应为 JSON 对象。"), "invalid", "positions"))
            continue
        try:
            at = parse_time(item.get("at"), now)
        except ValueError as error:
            rejected.append(Rejected(i, str(error), "invalid_time", "at"))
            continue
        try:
            lon = check_longitude(parse_number(item.get("lon"), field="lon"), field="lon")
            lat = check_latitude(parse_number(item.get("lat"), field="lat"), field="lat")
            accuracy = _accuracy(item.get("accuracy_m"))
        except BadCoordinates as error:
            rejected.append(Rejected(i, error.message, error.code, error.field))
            continue
        rows.index.append(i)
        rows.at.append(at)
        rows.lon.append(lon)
        rows.lat.append(lat)
        rows.accuracy.append(accuracy)
    return rows


def _shift_of(shifts: list[Shift], at: dt.datetime, now: dt.datetime) -> int | None:
    starts = [s.started_at for s in shifts]
    k = bisect.bisect_right(starts, at + SHIFT_SLACK) - 1
    while k >= 0:  # shifts do not overlap: the latest start before `at` is the one
        shift = shifts[k]
        if (shift.ended_at or now) + SHIFT_SLACK >= at:
            return shift.pk
        return None
    return None


INSERT = f"""
INSERT INTO patrol_position (user_id, shift_id, at, geom, accuracy_m)
SELECT %s, t.s, t.a, ST_SetSRID(ST_MakePoint(t.x, t.y), {settings.GRID_SRID}), t.acc
FROM unnest(%s::bigint[], %s::timestamptz[], %s::float8[], %s::float8[], %s::float8[])
     AS t(s, a, x, y, acc)
ON CONFLICT DO NOTHING
"""


def positions_ingest(*, user_id: int, data: Any) -> IngestResult:
    """Check a batch from `user_id`'s phone and store its good positions."""
    datum, positions = batch_positions(data)
    now = clock.now()
    rejected: list[Rejected] = []
    rows = _read_rows(positions, now, rejected)
    keep = np.ones(len(rows.index), dtype=bool)
    if rows.index:
        lon, lat = np.array(rows.lon), np.array(rows.lat)
        reasons = lonlat_reasons(lon, lat, datum)
        for n in np.flatnonzero(reasons != None):  # noqa: E711 (an array comparison)
            rejected.append(Rejected(rows.index[n], str(reasons[n]), "invalid_coordinates", "lon"))
            keep[n] = False
        x, y = to_wgs84(lon, lat, datum)
        bad = ~(np.isfinite(x) & np.isfinite(y)) & keep
        for n in np.flatnonzero(bad):  # cannot happen in range; be sure
            failed = _("坐标换算失败。")
            rejected.append(Rejected(rows.index[n], failed, "invalid_coordinates", "lon"))
            keep[n] = False
    shifts = list(
        Shift.objects.filter(user_id=user_id, started_at__lte=now + MAX_AHEAD)
        .filter(started_at__gte=now - MAX_AGE - dt.timedelta(days=2))
        .order_by("started_at")
        .only("pk", "started_at", "ended_at")
    )
    out: dict[str, list[Any]] = {"s": [], "a": [], "x": [], "y": [], "acc": []}
    newest: tuple[dt.datetime, int, float, float] | None = None
    for k, i in enumerate(rows.index):
        if not keep[k]:
            continue
        at = rows.at[k]
        shift_id = _shift_of(shifts, at, now)
        if shift_id is None:
            rejected.append(Rejected(i, _("该时间不在上岗时段内。"), "off_duty", "at"))
            continue
        px, py = float(x[k]), float(y[k])
        out["s"].append(shift_id)
        out["a"].append(at)
        out["x"].append(px)
        out["y"].append(py)
        out["acc"].append(rows.accuracy[k])
        if newest is None or at > newest[0]:
            newest = (at, shift_id, px, py)
    rejected.sort(key=lambda r: r.index)
    if not out["a"]:
        return IngestResult(len(positions), 0, rejected)
    # Partitions first, each committed at once: creating one locks the whole table, which
    # must not last as long as this request's insert. The next day's is made ahead, so
    # that midnight does not stop every phone's batch at once.
    days = {local_day(at) for at in out["a"]}
    ensure_partitions(days | {max(days) + dt.timedelta(days=1)})
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(INSERT, [user_id, out["s"], out["a"], out["x"], out["y"], out["acc"]])
        stored = max(cursor.rowcount, 0)
        assert newest is not None
        at, shift_id, px, py = newest
        cursor.execute(
            f"UPDATE patrol_shift SET last_at = %s, "
            f"last_geom = ST_SetSRID(ST_MakePoint(%s, %s), {settings.GRID_SRID}) "
            "WHERE id = %s AND (last_at IS NULL OR last_at < %s)",
            [at, px, py, shift_id, at],
        )
    return IngestResult(len(positions), stored, rejected)
