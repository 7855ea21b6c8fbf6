"""Inspector figures over a period of local days (docs/patrol.md defines each):
on-duty hours, km patrolled, reports, the share of reports that became cases (立案), and
verifications done on time (within VERIFY_WITHIN of the handling they check)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, TypedDict

from django.db import connection

from gridmgmt import clock
from patrol.partitions import day_bounds
from patrol.services import MAX_GAP

VERIFY_WITHIN: Final = dt.timedelta(hours=24)


class InspectorFigures(TypedDict):
    user_id: int
    username: str
    name: str
    on_duty_hours: float
    km: float
    reports: int
    became_cases: int
    case_share: float | None
    verifications: int
    verified_on_time: int
    on_time_share: float | None


SQL = """
WITH who AS (SELECT unnest(%(users)s::int[]) AS user_id),
duty AS (
    SELECT user_id, sum(extract(epoch FROM least(coalesce(ended_at, %(now)s), %(end)s)
                                         - greatest(started_at, %(start)s))) / 3600.0 AS h
    FROM patrol_shift
    WHERE user_id = ANY(%(users)s) AND started_at < %(end)s
      AND coalesce(ended_at, %(now)s) > %(start)s
    GROUP BY user_id
), fix AS (
    SELECT user_id, at - lag(at) OVER w AS dt,
           ST_Distance(lag(geom) OVER w::geography, geom::geography) AS m
    FROM patrol_position
    WHERE user_id = ANY(%(users)s) AND at >= %(start)s AND at < %(end)s
    WINDOW w AS (PARTITION BY user_id, shift_id ORDER BY at)
), walked AS (
    SELECT user_id, sum(m) FILTER (WHERE dt <= %(gap)s) / 1000.0 AS km FROM fix GROUP BY user_id
), reported AS (
    SELECT reporter_id AS user_id, count(*) AS n, count(filed_at) AS filed
    FROM incidents_case
    WHERE reporter_id = ANY(%(users)s) AND created_at >= %(start)s AND created_at < %(end)s
    GROUP BY reporter_id
), verified AS (
    SELECT v.actor_id AS user_id, count(*) AS n,
           count(*) FILTER (WHERE v.at - h.at <= %(within)s) AS on_time
    FROM incidents_caseevent v
    LEFT JOIN LATERAL (
        SELECT at FROM incidents_caseevent e
        WHERE e.case_id = v.case_id AND e.action = 'handle' AND e.at <= v.at
        ORDER BY e.at DESC LIMIT 1
    ) h ON true
    WHERE v.actor_id = ANY(%(users)s) AND v.action IN ('verify_pass', 'verify_fail')
      AND v.at >= %(start)s AND v.at < %(end)s
    GROUP BY v.actor_id
)
SELECT who.user_id, u.username, trim(u.last_name || u.first_name),
       coalesce(duty.h, 0), coalesce(walked.km, 0),
       coalesce(reported.n, 0), coalesce(reported.filed, 0),
       coalesce(verified.n, 0), coalesce(verified.on_time, 0)
FROM who JOIN auth_user u ON u.id = who.user_id
LEFT JOIN duty USING (user_id) LEFT JOIN walked USING (user_id)
LEFT JOIN reported USING (user_id) LEFT JOIN verified USING (user_id)
ORDER BY u.username
"""


def inspector_figures(*, users: list[int], first: dt.date, last: dt.date) -> list[InspectorFigures]:
    """Figures of `users` over the local days first..last (both included)."""
    start, _ = day_bounds(first)
    _, end = day_bounds(last)
    params: dict[str, Any] = {
        "users": users, "start": start, "end": end, "now": clock.now(),
        "gap": MAX_GAP, "within": VERIFY_WITHIN,
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(SQL, params)
        rows = cursor.fetchall()
    return [
        InspectorFigures(
            user_id=user_id,
            username=username,
            name=name,
            on_duty_hours=round(float(hours), 2),
            km=round(float(km), 3),
            reports=reports,
            became_cases=filed,
            case_share=round(filed / reports, 4) if reports else None,
            verifications=checks,
            verified_on_time=on_time,
            on_time_share=round(on_time / checks, 4) if checks else None,
        )
        for user_id, username, name, hours, km, reports, filed, checks, on_time in rows
    ]
