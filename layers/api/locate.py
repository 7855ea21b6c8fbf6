"""GET /api/layers/locate/?lon=…&lat=…&datum=…: where is this point — its district,
street, community and grid cell, with codes and names.

One placement query (layers.placement.place_point: the GiST index of the cells' pieces,
no outline read). The coordinates are checked by layers.geoinput before anything is
built from them (a number, finite, in the datum's range), so nothing malformed reaches
GEOS; every refusal is the API's validation shape, naming the parameter at fault.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from layers.access import is_superuser, staff_of
from layers.datum import DEFAULT_DATUM, Datum, UnknownDatum, parse_datum
from layers.geoinput import BadCoordinates, city_placement, storage_point
from layers.models import Area

TIERS = ("district", "street", "community", "cell")


class IsStaff(permissions.BasePermission):
    message = _("只有在岗工作人员可以查询位置所在区域。")

    def has_permission(self, request: Request, view: APIView) -> bool:
        return is_superuser(request.user) or staff_of(request.user) is not None


class AreaRefOut(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Hierarchical code (6, 9, 12 or 15 digits).")
    name = serializers.CharField(help_text="Name in the interface's language.")


class LocateResponse(serializers.Serializer[Any]):
    district = AreaRefOut()
    street = AreaRefOut()
    community = AreaRefOut()
    cell = AreaRefOut()


BAD_POINT = OpenApiResponse(
    response={
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "example": {"location": ["location：位置（0.500000, 0.500000）不在本市任何网格内。"]},
    },
    description="lon or lat missing, not a number or outside the datum's range (named by "
    "`lon` or `lat`), an unknown `datum`, or a point in no grid cell of the city "
    "(`location`).",
)


def _ref(area: Area) -> dict[str, Any]:
    return {"code": area.code, "name": area.display_name}


class LocateView(APIView):
    """The district, street, community and grid cell of one point, for staff."""

    permission_classes = [permissions.IsAuthenticated, IsStaff]

    @extend_schema(
        summary="Where is this point: its district, street, community and cell",
        description="The areas of the grid cell that covers the point (border-inclusive; "
        "on a border between two cells the lower code wins). Codes are hierarchical: a "
        "cell's code begins with its community's, street's and district's.",
        parameters=[
            OpenApiParameter("lon", float, required=True, description="Longitude in `datum`."),
            OpenApiParameter("lat", float, required=True, description="Latitude in `datum`."),
            OpenApiParameter(
                "datum",
                str,
                enum=[d.value for d in Datum],
                description="Datum of lon/lat: wgs84 (default), gcj02 (AMap/Tencent), bd09 "
                "(Baidu) or cgcs2000.",
            ),
        ],
        responses={200: LocateResponse, 400: BAD_POINT},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        try:
            datum = parse_datum(params.get("datum") or DEFAULT_DATUM.value)
        except UnknownDatum as error:
            raise serializers.ValidationError({"datum": [str(error)]}) from None
        try:
            point = storage_point(params.get("lon"), params.get("lat"), datum)
            placement = city_placement(point, field="location")
        except BadCoordinates as error:
            detail = serializers.ErrorDetail(error.message, code=error.code)
            raise serializers.ValidationError({error.field: [detail]}) from None
        return Response({tier: _ref(getattr(placement, tier)) for tier in TIERS})
