"""GET /api/geocode/?q=…&limit=…&datum=…: hotline geocoding (incidents.geocoding).

For staff only (any active user with a post, and superusers). The search runs among the
standard addresses the user may see (layers.access), and the points come back in the
datum the client asked for, so that an AMap client can draw them as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.db.models import Q, QuerySet
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.geocoding import MAX_LIMIT, MAX_QUERY_LENGTH, Candidate, GeocodeError, geocode
from layers.access import is_superuser, staff_of, visible_areas, visible_records
from layers.api.filters import DatumField
from layers.api.locate import LocateView
from layers.datum import DEFAULT_DATUM, Datum, from_storage, point_from_storage
from layers.models import Address, Area
from layers.models.areas import Tier


class GeocodeQuery(serializers.Serializer[Any]):
    q = serializers.CharField(
        max_length=MAX_QUERY_LENGTH,
        help_text="The caller's address as typed: partial, misspelled, Chinese numerals, "
        "full-width digits and punctuation are fine (e.g. 某某路一百二十三号某某小区5座).",
    )
    limit = serializers.IntegerField(
        required=False,
        default=5,
        min_value=1,
        max_value=MAX_LIMIT,
        help_text=f"Number of candidates, best first (1-{MAX_LIMIT}).",
    )
    datum = DatumField(
        required=False,
        default=DEFAULT_DATUM,
        help_text="Datum of the returned points: wgs84 (default), gcj02 (AMap/Tencent), "
        "bd09 (Baidu) or cgcs2000.",
    )


class CandidateSerializer(serializers.Serializer[Candidate]):
    id = serializers.IntegerField(source="address_id", help_text="Address id.")
    code = serializers.CharField(help_text="Standard address code.")
    text = serializers.CharField(help_text="The standard address.")
    score = serializers.FloatField(help_text="0-1; 1 means the same words as the query.")
    lon = serializers.SerializerMethodField(help_text="Longitude in the requested datum.")
    lat = serializers.SerializerMethodField(help_text="Latitude in the requested datum.")
    cell_code = serializers.CharField(allow_null=True, help_text="Grid cell (15 digits).")
    community_code = serializers.CharField(allow_null=True, help_text="Community (12 digits).")
    street_code = serializers.CharField(allow_null=True, help_text="Street/town (9 digits).")
    district_code = serializers.CharField(allow_null=True, help_text="District (6 digits).")

    def _point(self, candidate: Candidate) -> tuple[float, float]:
        datum: Datum = self.context["datum"]
        return point_from_storage(candidate.point.x, candidate.point.y, datum)

    def get_lon(self, candidate: Candidate) -> float:
        return self._point(candidate)[0]

    def get_lat(self, candidate: Candidate) -> float:
        return self._point(candidate)[1]


def candidates_out(candidates: list[Candidate], datum: Datum) -> list[dict[str, Any]]:
    """The candidates as CandidateSerializer declares them, their points converted to
    `datum` in one call (a serializer per candidate converted each point twice)."""
    if not candidates:
        return []
    lon, lat = from_storage(
        np.array([c.point.x for c in candidates]), np.array([c.point.y for c in candidates]), datum
    )
    return [
        {
            "id": c.address_id,
            "code": c.code,
            "text": c.text,
            "score": c.score,
            "lon": float(x),
            "lat": float(y),
            "cell_code": c.cell_code,
            "community_code": c.community_code,
            "street_code": c.street_code,
            "district_code": c.district_code,
        }
        for c, x, y in zip(candidates, lon, lat, strict=True)
    ]


class GeocodeResponse(serializers.Serializer[Any]):
    query = serializers.CharField(help_text="The q parameter as received.")
    datum = serializers.CharField(help_text="Datum of the points.")
    candidates = CandidateSerializer(many=True)


class IsStaff(permissions.BasePermission):
    message = _("只有在岗工作人员可以使用地址匹配。")

    def has_permission(self, request: Request, view: APIView) -> bool:
        return is_superuser(request.user) or staff_of(request.user) is not None


BAD_QUERY = OpenApiResponse(
    response={
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "example": {"q": ["地址太短：请至少输入 2 个字，例如路名加门牌号或小区名。"]},
    },
    description="A parameter is invalid or the query cannot be matched: each bad parameter "
    "is named with a message that says what to type instead.",
)


class GeocodeView(APIView):
    permission_classes = [permissions.IsAuthenticated, IsStaff]

    @extend_schema(
        summary="Geocode a caller's address",
        description="Ranked standard addresses for a 12345 caller's address text. The text "
        "is normalised (full-width, traditional characters, Chinese numerals, 座/号楼/幢 for "
        "栋, punctuation) and matched by trigram similarity, so a missing city or district, "
        "a dropped character or a homophone still finds the address. Only addresses the "
        "user may see are searched. Points are in the datum of the `datum` parameter.",
        parameters=[GeocodeQuery],
        responses={200: GeocodeResponse, 400: BAD_QUERY},
    )
    def get(self, request: Request) -> Response:
        query = GeocodeQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        data = query.validated_data
        try:
            candidates = geocode(data["q"], limit=data["limit"], among=self._addresses(request))
        except GeocodeError as error:
            raise serializers.ValidationError({"q": [error.message]}) from error
        return Response(
            {
                "query": data["q"],
                "datum": data["datum"].value,
                "candidates": candidates_out(candidates, data["datum"]),
            }
        )

    def _addresses(self, request: Request) -> QuerySet[Address]:
        return visible_records(request.user, Address.objects.all())


# ---- a point's areas, and areas by name (the hotline's fallback when nothing matches) ----


AREA_SEARCH_LIMIT = 10


class AreaSearchQuery(serializers.Serializer[Any]):
    q = serializers.CharField(max_length=50, help_text="Part of a street's or community's name.")
    datum = DatumField(required=False, default=DEFAULT_DATUM, help_text="Datum of the bounds.")


class AreaHit(serializers.Serializer[Any]):
    code = serializers.CharField()
    name = serializers.CharField()
    tier = serializers.CharField()
    within = serializers.CharField(help_text="Name of the area it lies in.")
    bounds = serializers.ListField(
        child=serializers.FloatField(), help_text="[west, south, east, north] in `datum`."
    )


class AreaSearchView(APIView):
    """GET /api/geocode/areas/?q=…: current streets and communities whose name holds `q`
    (at most 10, streets first), each with its bounds, so that the operator can move the
    map there and place the point by hand."""

    permission_classes = [permissions.IsAuthenticated, IsStaff]

    @extend_schema(
        summary="Streets and communities by name",
        parameters=[AreaSearchQuery],
        responses={200: AreaHit(many=True), 400: BAD_QUERY},
    )
    def get(self, request: Request) -> Response:
        query = AreaSearchQuery(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        text = query.validated_data["q"].strip()
        datum = query.validated_data["datum"]
        areas = (
            visible_areas(request.user, Area.objects.current())
            .filter(tier__in=[Tier.STREET, Tier.COMMUNITY])
            .filter(Q(name__icontains=text) | Q(name_en__icontains=text))
            .select_related("parent")
        )
        hits = sorted(areas[: AREA_SEARCH_LIMIT * 2], key=lambda a: (a.tier != Tier.STREET, a.code))
        return Response([_hit(area, datum) for area in hits[:AREA_SEARCH_LIMIT]])


def _hit(area: Area, datum: Datum) -> dict[str, Any]:
    west, south, east, north = area.geom.extent
    x0, y0 = point_from_storage(west, south, datum)
    x1, y1 = point_from_storage(east, north, datum)
    return {
        "code": area.code,
        "name": area.display_name,
        "tier": area.tier,
        "within": area.parent.display_name if area.parent else "",
        "bounds": [x0, y0, x1, y1],
    }


urlpatterns = [
    path("", GeocodeView.as_view(), name="geocode"),
    path("locate/", LocateView.as_view(), name="geocode-locate"),
    path("areas/", AreaSearchView.as_view(), name="geocode-areas"),
]
