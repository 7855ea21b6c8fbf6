"""GET /api/geocode/?q=…&limit=…&datum=…: hotline geocoding (incidents.geocoding).

For staff only (any active user with a post, and superusers). The search runs among the
standard addresses the user may see (layers.access), and the points come back in the
datum the client asked for, so that an AMap client can draw them as they are.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.geocoding import MAX_LIMIT, MAX_QUERY_LENGTH, Candidate, GeocodeError, geocode
from layers.access import is_superuser, staff_of, visible_records
from layers.api.filters import DatumField
from layers.datum import DEFAULT_DATUM, Datum, point_from_storage
from layers.models import Address


class GeocodeQuery(serializers.Serializer[Any]):
    q = serializers.CharField(
        max_length=MAX_QUERY_LENGTH,
        help_text="The caller's address as typed: partial, misspelled, Chinese numerals, "
        "full-width digits and punctuation are fine (e.g. 天河路一百二十三号华景新城5座).",
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
        context = {"datum": data["datum"]}
        return Response(
            {
                "query": data["q"],
                "datum": data["datum"].value,
                "candidates": [CandidateSerializer(c, context=context).data for c in candidates],
            }
        )

    def _addresses(self, request: Request) -> QuerySet[Address]:
        return visible_records(request.user, Address.objects.all())


urlpatterns = [path("", GeocodeView.as_view(), name="geocode")]
