"""巡查 over the API (/api/patrol/…, docs/patrol.md). Views parse, call one function of
patrol.services / ingest / figures, and render; who may see what is patrol.access."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.gis.db.models.functions import PointOnSurface
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.context import note_personal_read
from gridmgmt import clock
from incidents.errors import CaseNotFound, InvalidInput
from patrol import services
from patrol.access import TRACK, coverage_cells, may_see_track, visible_track_owners
from patrol.figures import inspector_figures
from patrol.ingest import positions_ingest
from patrol.models import CellCoverage, Position, Shift
from patrol.partitions import day_bounds, local_day

MAX_FIGURE_DAYS = 366
DAY = OpenApiParameter("day", OpenApiTypes.DATE, description="本地日期，默认今天")


def _day(request: Request, name: str, default: dt.date) -> dt.date:
    value = request.query_params.get(name)
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value[:10]) if len(value) == 10 else _bad_day(name)
    except ValueError:
        return _bad_day(name)


def _bad_day(name: str) -> dt.date:
    raise InvalidInput(_("%(field)s 应为 YYYY-MM-DD 格式的日期。") % {"field": name}, field=name)


def _shift_json(shift: Shift | None) -> dict[str, Any]:
    if shift is None or shift.ended_at is not None:
        return {"on_duty": False, "shift": None}
    return {
        "on_duty": True,
        "shift": {"id": shift.pk, "started_at": shift.started_at.isoformat()},
    }


class DutyView(APIView):
    """GET: whether the signed-in inspector is on duty. POST {"on": true|false, "at"?}:
    上岗 / 下岗 (`at`: when it happened, if the phone queued it offline)."""

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        return Response(_shift_json(services.open_shift(request.user)))

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        on = data.get("on")
        if not isinstance(on, bool):
            raise InvalidInput(_("on 应为 true（上岗）或 false（下岗）。"), field="on")
        at = data.get("at")
        if on:
            return Response(_shift_json(services.duty_start(user=request.user, at=at)))
        services.duty_end(user=request.user, at=at)
        return Response(_shift_json(None))


class PositionsView(APIView):
    """POST a batch of positions (patrol.ingest): 200 with how many were stored, how many
    were already there, and each rejected position with its index and reason."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def post(self, request: Request) -> Response:
        result = positions_ingest(user_id=int(request.user.pk or 0), data=request.data)
        return Response(
            {
                "received": result.received,
                "stored": result.stored,
                "duplicates": result.duplicates,
                "rejected": [r.as_json() for r in result.rejected],
            }
        )


class OnDutyView(APIView):
    """GET: the inspectors on duty now whose positions the user may see, with their last
    position (WGS 84); each one shown is an audited personal read."""

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        owners = visible_track_owners(request.user)
        shifts = (
            Shift.objects.filter(user_id__in=owners, ended_at__isnull=True)
            .select_related("user")
            .order_by("user__username")
        )
        rows = []
        for shift in shifts:
            note_personal_read(TRACK, shift.user_id)
            user = shift.user
            rows.append(
                {
                    "user_id": user.pk,
                    "username": user.get_username(),
                    "name": user.get_full_name() or user.get_username(),
                    "started_at": shift.started_at.isoformat(),
                    "last_at": shift.last_at.isoformat() if shift.last_at else None,
                    "lon": shift.last_geom.x if shift.last_geom else None,
                    "lat": shift.last_geom.y if shift.last_geom else None,
                }
            )
        return Response({"count": len(rows), "results": rows})


class TrackView(APIView):
    """GET ?day=: one inspector's track of a local day as a GeoJSON LineString per shift
    (WGS 84); 404 for an inspector whose track the user may not see. Audited."""

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT, parameters=[DAY])
    def get(self, request: Request, user_id: int) -> Response:
        if not may_see_track(request.user, user_id):
            raise CaseNotFound(_("没有这个对象，或您无权查看。"))
        day = _day(request, "day", local_day(clock.now()))
        start, end = day_bounds(day)
        fixes = (
            Position.objects.filter(user_id=user_id, at__gte=start, at__lt=end)
            .order_by("at")
            .values_list("shift_id", "at", "geom")
        )
        tracks: dict[int, list[tuple[dt.datetime, Any]]] = {}
        for shift_id, at, geom in fixes:
            tracks.setdefault(shift_id, []).append((at, geom))
        note_personal_read(TRACK, user_id)
        features = [
            {
                "type": "Feature",
                "properties": {
                    "shift": shift_id,
                    "start": points[0][0].isoformat(),
                    "end": points[-1][0].isoformat(),
                    "times": [at.isoformat() for at, _ in points],
                },
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[g.x, g.y] for _, g in points],
                },
            }
            for shift_id, points in tracks.items()
        ]
        return Response({"type": "FeatureCollection", "day": day.isoformat(), "features": features})


COVERAGE_PAGE_SIZE = 500
COVERAGE_MAX_PAGE_SIZE = 5000
VISITED = OpenApiParameter(
    "visited", OpenApiTypes.BOOL, description="true: only cells visited; false: only cells not"
)
PAGE = OpenApiParameter("page", OpenApiTypes.INT, description="The page (from 1).")
PAGE_SIZE = OpenApiParameter(
    "page_size",
    OpenApiTypes.INT,
    description=f"Cells per page (default {COVERAGE_PAGE_SIZE}, at most {COVERAGE_MAX_PAGE_SIZE}).",
)


def _positive(request: Request, name: str, default: int, most: int) -> int:
    value = request.query_params.get(name)
    if not value:
        return default
    if not value.isdigit() or not 1 <= int(value) <= most:
        raise InvalidInput(
            _("%(field)s 应为 1 到 %(most)d 之间的整数。") % {"field": name, "most": most},
            field=name,
        )
    return int(value)


def _visited_filter(request: Request) -> bool | None:
    value = request.query_params.get("visited", "")
    if value in ("", "all"):
        return None
    if value not in ("true", "false"):
        raise InvalidInput(_("visited 应为 true 或 false。"), field="visited")
    return value == "true"


def _link(request: Request, page: int, size: int) -> str:
    params = request.query_params.copy()
    params["page"], params["page_size"] = str(page), str(size)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")


class CoverageView(APIView):
    """GET ?day=&visited=&page=&page_size=: the cells of the user's area with their patrol
    coverage of the day (visited, minutes, km, and the cell's point for the map), by code,
    in pages; `cells` and `visited` count every page. Computed for the day when it has
    not been yet."""

    @extend_schema(
        request=None,
        responses=OpenApiTypes.OBJECT,
        parameters=[DAY, VISITED, PAGE, PAGE_SIZE],
    )
    def get(self, request: Request) -> Response:
        today = local_day(clock.now())
        day = _day(request, "day", today)
        wanted = _visited_filter(request)
        page = _positive(request, "page", 1, 10**6)
        size = _positive(request, "page_size", COVERAGE_PAGE_SIZE, COVERAGE_MAX_PAGE_SIZE)
        if day <= today:
            services.coverage_current(day=day)
        cells = coverage_cells(request.user)
        covered = CellCoverage.objects.filter(day=day, cell__in=cells.values("pk"))
        total, visited = cells.count(), covered.count()
        if wanted is True:
            chosen, count = cells.filter(pk__in=covered.values("cell_id")), visited
        elif wanted is False:
            chosen, count = cells.exclude(pk__in=covered.values("cell_id")), total - visited
        else:
            chosen, count = cells, total
        first = (page - 1) * size
        rows = list(
            chosen.order_by("code")
            .annotate(point=PointOnSurface("geom"))
            .values_list("pk", "code", "name", "point")[first : first + size]
        )
        found = {c.cell_id: c for c in covered.filter(cell__in=[row[0] for row in rows])}
        results = [
            _coverage_row(pk, code, name, point, found.get(pk)) for pk, code, name, point in rows
        ]
        last = max(1, -(-count // size))
        return Response(
            {
                "day": day.isoformat(), "cells": total, "visited": visited, "count": count,
                "page": page, "page_size": size,
                "next": _link(request, page + 1, size) if page < last else None,
                "previous": _link(request, page - 1, size) if 1 < page <= last else None,
                "results": results,
            }
        )  # fmt: skip


def _coverage_row(
    pk: int, code: str, name: str, point: Any, found: CellCoverage | None
) -> dict[str, Any]:
    return {
        "cell_id": pk, "code": code, "name": name, "visited": found is not None,
        "minutes": round(found.minutes, 1) if found else 0.0,
        "km": round(found.km, 3) if found else 0.0,
        "inspectors": found.inspectors if found else 0,
        "lon": round(point.x, 6) if point is not None else None,
        "lat": round(point.y, 6) if point is not None else None,
    }  # fmt: skip


class FiguresView(APIView):
    """GET ?first=&last=: per-inspector figures (patrol.figures) of the inspectors whose
    tracks the user may see (km derives from the track); default: this month so far."""

    @extend_schema(
        request=None,
        responses=OpenApiTypes.OBJECT,
        parameters=[
            OpenApiParameter("first", OpenApiTypes.DATE),
            OpenApiParameter("last", OpenApiTypes.DATE),
        ],
    )
    def get(self, request: Request) -> Response:
        today = local_day(clock.now())
        first = _day(request, "first", today.replace(day=1))
        last = _day(request, "last", today)
        if last < first or (last - first).days >= MAX_FIGURE_DAYS:
            raise InvalidInput(
                _("日期范围无效：last 不得早于 first，且最多 %(days)d 天。")
                % {"days": MAX_FIGURE_DAYS},
                field="last",
            )
        users = visible_track_owners(request.user)
        rows = inspector_figures(users=users, first=first, last=last)
        for row in rows:
            note_personal_read(TRACK, row["user_id"])
        return Response({"first": first.isoformat(), "last": last.isoformat(), "results": rows})
