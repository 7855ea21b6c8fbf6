"""Query parameters of the base-layer API.

Each endpoint's parameters are one serializer: it parses and validates them (a bad value
is a 400 whose body names the parameter), documents them in the OpenAPI schema (the
views pass the serializer to `extend_schema(parameters=[...])`), and filters the
queryset with what it validated (`apply`). Filters narrow what access.py already let
the user see; they never widen it.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from django.conf import settings
from django.contrib.gis.geos import Point, Polygon
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from layers.datum import DEFAULT_DATUM, Datum, UnknownDatum, parse_datum, to_storage
from layers.geoinput import (
    BadCoordinates,
    check_latitude,
    check_longitude,
    city_placement,
    parse_number,
    storage_point,
)
from layers.models import (
    CODE_LENGTH,
    Area,
    Category,
    CategoryKind,
    Component,
    ComponentState,
    EntityStatus,
    LegalEntity,
    Person,
    PersonType,
    Tier,
)

BBox = tuple[float, float, float, float]

# Points sampled along each edge of a bbox before it is converted to storage: the datum
# offsets vary along an edge, so a rectangle in GCJ-02 is not a rectangle in WGS 84.
BBOX_EDGE_SAMPLES = 16


@extend_schema_field(
    {"type": "string", "enum": [d.value for d in Datum], "default": DEFAULT_DATUM.value}
)
class DatumField(serializers.CharField):
    """A datum name (aliases such as `gcj-02`, `amap`, `baidu`, `epsg:4490` accepted)."""

    def to_internal_value(self, data: Any) -> Datum:
        try:
            return parse_datum(str(data))
        except UnknownDatum as error:
            raise serializers.ValidationError(str(error)) from None


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$",
        "example": "100.00,20.00,100.04,20.04",
    }
)
class BBoxField(serializers.Field):
    """`minlon,minlat,maxlon,maxlat` in the request's datum."""

    def to_representation(self, value: BBox) -> str:
        return ",".join(str(v) for v in value)

    def to_internal_value(self, data: Any) -> BBox:
        parts = str(data).split(",", 4)
        if len(parts) != 4:
            raise serializers.ValidationError(_("bbox must be minlon,minlat,maxlon,maxlat."))
        try:
            # Through the input boundary: plain decimal numbers, finite, in range. Not
            # held to the datum's valid range, unlike a point: a map's viewport may reach
            # past China, and the datum conversion of any in-range coordinate is finite.
            minx, maxx = (
                check_longitude(parse_number(parts[i], field="bbox"), field="bbox") for i in (0, 2)
            )
            miny, maxy = (
                check_latitude(parse_number(parts[i], field="bbox"), field="bbox") for i in (1, 3)
            )
        except BadCoordinates as error:
            raise serializers.ValidationError(error.message, code=error.code) from None
        if not (-180 <= minx < maxx <= 180):
            raise serializers.ValidationError(
                _("bbox longitudes must satisfy -180 <= minlon < maxlon <= 180.")
            )
        if not (-90 <= miny < maxy <= 90):
            raise serializers.ValidationError(
                _("bbox latitudes must satisfy -90 <= minlat < maxlat <= 90.")
            )
        return (minx, miny, maxx, maxy)


_AXIS_RANGE = {"lon": (-180, 180), "lat": (-90, 90)}


class CoordinateField(serializers.FloatField):
    """A longitude or latitude through the input boundary (layers.geoinput): a JSON number
    or plain decimal text, finite and in range; NaN, inf, 1e308, 1_0 are refused here.
    (A FloatField for the schema, which then shows the range.)"""

    def __init__(self, *, axis: Literal["lon", "lat"], **kwargs: Any) -> None:
        self.axis = axis
        low, high = _AXIS_RANGE[axis]
        super().__init__(min_value=low, max_value=high, **kwargs)

    def to_internal_value(self, data: Any) -> float:
        field = self.field_name or self.axis
        try:
            number = parse_number(data, field=field)
            if self.axis == "lon":
                return check_longitude(number, field=field)
            return check_latitude(number, field=field)
        except BadCoordinates as error:
            raise serializers.ValidationError(error.message, code=error.code) from None


def location_point(
    attrs: dict[str, Any], *, lon: str = "lon", lat: str = "lat", datum: str = "datum"
) -> Point:
    """The validated lon/lat of `attrs` in its datum, as a storage point: the datum's own
    valid range checked (layers.geoinput). A ValidationError names the field at fault."""
    try:
        return storage_point(attrs[lon], attrs[lat], attrs.get(datum, DEFAULT_DATUM),
                             fields=(lon, lat))  # fmt: skip
    except BadCoordinates as error:
        raise serializers.ValidationError(
            {error.field: [serializers.ErrorDetail(error.message, code=error.code)]}
        ) from None


def city_point(point: Point, *, field: str) -> Point:
    """`point` if it lies in a grid cell of the city, else a ValidationError on `field`."""
    try:
        city_placement(point, field=field)
    except BadCoordinates as error:
        raise serializers.ValidationError(
            {error.field: [serializers.ErrorDetail(error.message, code=error.code)]}
        ) from None
    return point


def bbox_polygon(bbox: BBox, datum: Datum) -> Polygon:
    """The bbox, given in `datum`, as a polygon in the storage SRID."""
    minx, miny, maxx, maxy = bbox
    t = np.linspace(0.0, 1.0, BBOX_EDGE_SAMPLES, endpoint=False)
    # Counter-clockwise from the south-west corner: south, east, north, west edges.
    xs = np.concatenate(
        [minx + (maxx - minx) * t, np.full_like(t, maxx), maxx - (maxx - minx) * t,
         np.full_like(t, minx)]
    )  # fmt: skip
    ys = np.concatenate(
        [np.full_like(t, miny), miny + (maxy - miny) * t, np.full_like(t, maxy),
         maxy - (maxy - miny) * t]
    )  # fmt: skip
    lon, lat = to_storage(xs, ys, datum)
    ring = [*zip(lon.tolist(), lat.tolist(), strict=True)]
    ring.append(ring[0])
    return Polygon(ring, srid=settings.GRID_SRID)


def _code_field(tier: Tier, help_text: str) -> serializers.RegexField:
    length = CODE_LENGTH[tier]
    return serializers.RegexField(
        rf"^\d{{{length}}}$",
        required=False,
        max_length=length,
        help_text=help_text,
        error_messages={"invalid": _("Must be a %(length)d-digit code.") % {"length": length}},
    )


def _area_ids(tier: Tier, code: str, parameter: str) -> list[int]:
    # Every version of the area, current or redrawn: records keep the placement they got.
    ids = list(Area.objects.filter(tier=tier, code=code).values_list("pk", flat=True))
    if not ids:
        raise serializers.ValidationError(
            _("No %(parameter)s with code %(code)s.") % {"parameter": parameter, "code": code}
        )
    return ids


class DatumQuery(serializers.Serializer[Any]):
    """The datum of coordinates in the request (bbox) and in the response (geometries)."""

    datum = DatumField(
        required=False,
        default=DEFAULT_DATUM,
        help_text=(
            "Datum of the bbox parameter and of every coordinate in the response: "
            "wgs84 (default), gcj02 (AMap/Tencent), bd09 (Baidu) or cgcs2000. "
            "Aliases such as gcj-02, amap, baidu, epsg:4326 and epsg:4490 are accepted."
        ),
    )

    def apply(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset


class SpatialQuery(DatumQuery):
    bbox = BBoxField(
        required=False,
        help_text=(
            "Only features intersecting this box (border included): "
            "minlon,minlat,maxlon,maxlat, in the datum given by the datum parameter."
        ),
    )

    def apply(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        bbox = self.validated_data.get("bbox")
        if bbox is not None:
            queryset = queryset.filter(
                geom__intersects=bbox_polygon(bbox, self.validated_data["datum"])
            )
        return queryset


class PlacedQuery(SpatialQuery):
    """Filters shared by every base layer: where the record is placed."""

    district = _code_field(Tier.DISTRICT, "Only records placed in this district (6-digit code).")
    street = _code_field(Tier.STREET, "Only records placed in this street/town (9-digit code).")
    community = _code_field(
        Tier.COMMUNITY, "Only records placed in this community/village (12-digit code)."
    )
    cell = _code_field(Tier.CELL, "Only records placed in this grid cell (15-digit code).")

    def validate_district(self, value: str) -> list[int]:
        return _area_ids(Tier.DISTRICT, value, "district")

    def validate_street(self, value: str) -> list[int]:
        return _area_ids(Tier.STREET, value, "street")

    def validate_community(self, value: str) -> list[int]:
        return _area_ids(Tier.COMMUNITY, value, "community")

    def validate_cell(self, value: str) -> list[int]:
        return _area_ids(Tier.CELL, value, "cell")

    def apply(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        queryset = super().apply(queryset)
        for field in ("district", "street", "community", "cell"):
            ids = self.validated_data.get(field)
            if ids is not None:
                queryset = queryset.filter(**{f"{field}_id__in": ids})
        return queryset


class SearchQuery(PlacedQuery):
    """Placed-record filters plus a free-text search over the layer's public fields."""

    search_fields: tuple[str, ...] = ()

    q = serializers.CharField(
        required=False,
        max_length=100,
        help_text="Case-insensitive text contained in the record's code, name or address.",
    )

    def apply(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        queryset = super().apply(queryset)
        text = self.validated_data.get("q")
        if text:
            condition = Q()
            for field in self.search_fields:
                condition |= Q(**{f"{field}__icontains": text})
            queryset = queryset.filter(condition)
        return queryset


class PersonQuery(PlacedQuery):
    # No free-text search on people: a search by name or ID number would let a user who
    # only sees masked values find out who lives where.
    person_type = serializers.ChoiceField(
        choices=PersonType.choices, required=False, help_text="Only people of this type."
    )

    def apply(self, queryset: QuerySet[Person]) -> QuerySet[Person]:
        queryset = super().apply(queryset)
        if "person_type" in self.validated_data:
            queryset = queryset.filter(person_type=self.validated_data["person_type"])
        return queryset


class LegalEntityQuery(SearchQuery):
    search_fields = ("credit_code", "name", "address")

    status = serializers.ChoiceField(
        choices=EntityStatus.choices, required=False, help_text="Only entities in this status."
    )

    def apply(self, queryset: QuerySet[LegalEntity]) -> QuerySet[LegalEntity]:
        queryset = super().apply(queryset)
        if "status" in self.validated_data:
            queryset = queryset.filter(status=self.validated_data["status"])
        return queryset


class ComponentQuery(SearchQuery):
    search_fields = ("code", "name")

    category = serializers.RegexField(
        r"^\d{2}(\d{2})?$",
        required=False,
        max_length=4,
        help_text=(
            "Catalogue code: a subcategory (major + minor, e.g. 0101) or a major class "
            "(e.g. 01, every subcategory in it)."
        ),
        error_messages={"invalid": _("Must be a 2-digit major or 4-digit subcategory code.")},
    )
    state = serializers.ChoiceField(
        choices=ComponentState.choices, required=False, help_text="Only components in this state."
    )

    def validate_category(self, value: str) -> list[int]:
        categories = Category.objects.filter(kind=CategoryKind.COMPONENT, major_code=value[:2])
        if len(value) == 4:
            categories = categories.filter(minor_code=value[2:])
        ids = list(categories.values_list("pk", flat=True))
        if not ids:
            raise serializers.ValidationError(_("No component category with code %s.") % value)
        return ids

    def apply(self, queryset: QuerySet[Component]) -> QuerySet[Component]:
        queryset = super().apply(queryset)
        if "category" in self.validated_data:
            queryset = queryset.filter(category_id__in=self.validated_data["category"])
        if "state" in self.validated_data:
            queryset = queryset.filter(state=self.validated_data["state"])
        return queryset


class AddressQuery(SearchQuery):
    search_fields = ("code", "text", "building_name")


class BuildingQuery(SearchQuery):
    search_fields = ("code", "name", "address_text")


class AreaQuery(SpatialQuery):
    tier = serializers.ChoiceField(
        choices=Tier.choices, required=False, help_text="Only areas of this tier."
    )
    code = serializers.RegexField(
        r"^\d{6,15}$", required=False, max_length=15, help_text="Only the area with this code."
    )
    code_prefix = serializers.RegexField(
        r"^\d{1,15}$",
        required=False,
        max_length=15,
        help_text="Only areas whose code starts with these digits (a district's six-digit "
        "code: the district and everything in it).",
    )
    # Named like Field.parent, which DRF's serializer metaclass keeps apart from declared
    # fields at run time; only the type checker sees a clash.
    parent = serializers.RegexField(  # type: ignore[assignment]
        r"^\d{6,15}$",
        required=False,
        max_length=15,
        help_text="Only the children of the area with this code.",
    )
    include_expired = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Also return areas that were redrawn (with a valid_to date).",
    )

    def apply(self, queryset: QuerySet[Area]) -> QuerySet[Area]:
        queryset = super().apply(queryset)
        data = self.validated_data
        if not data["include_expired"]:
            queryset = queryset.filter(valid_to__isnull=True)
        if "tier" in data:
            queryset = queryset.filter(tier=data["tier"])
        if "code" in data:
            queryset = queryset.filter(code=data["code"])
        if "code_prefix" in data:
            queryset = queryset.filter(code__startswith=data["code_prefix"])
        if "parent" in data:
            queryset = queryset.filter(parent__code=data["parent"])
        return queryset


class CategoryQuery(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(
        choices=CategoryKind.choices, required=False, help_text="Components or events."
    )
    major = serializers.RegexField(
        r"^\d{2}$",
        required=False,
        max_length=2,
        help_text="Only this major class (2 digits) and its subcategories.",
    )
    active = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text="true: only categories in use; false: only retired ones; absent: both.",
    )

    def apply(self, queryset: QuerySet[Category]) -> QuerySet[Category]:
        data = self.validated_data
        if "kind" in data:
            queryset = queryset.filter(kind=data["kind"])
        if "major" in data:
            queryset = queryset.filter(major_code=data["major"])
        if data.get("active") is not None:
            queryset = queryset.filter(active=data["active"])
        return queryset
