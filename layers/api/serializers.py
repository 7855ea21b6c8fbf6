"""GeoJSON features of the base layers, in the datum the client asked for.

Geometries leave storage (settings.GRID_SRID) through layers.datum.from_storage, so a
client that asked for GCJ-02 can draw them on an AMap base map as they are. Records carry
the codes of the cell, community, street and district they are placed in; the views
annotate those codes onto the query (placed_codes), so a page costs one query.
Personal fields of people are masked unless layers.access says otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.db.models import F, Model, QuerySet
from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from gridmgmt.serializers import FieldsBuiltOnce
from layers.access import can_see_personal_data, personal_fields
from layers.datum import DEFAULT_DATUM, Datum, from_storage
from layers.models import Address, Area, Building, Category, Component, LegalEntity, Person

PLACEMENT_CODES = ("cell_code", "community_code", "street_code", "district_code")


def placed_codes(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """Annotate the placement codes (one join per tier, no Area rows or geometry loaded)."""
    return queryset.annotate(
        cell_code=F("cell__code"),
        community_code=F("community__code"),
        street_code=F("street__code"),
        district_code=F("district__code"),
    )


def _positions(node: Any, sink: list[list[float]]) -> None:
    # A GeoJSON position is a list of numbers; anything else here is a list of them.
    if node and isinstance(node[0], int | float):
        sink.append(node)
        return
    for child in node:
        _positions(child, sink)


def geojson_from_storage(geometry: dict[str, Any], datum: Datum) -> None:
    """Convert a GeoJSON geometry's coordinates, in place, from storage to `datum`.

    All the positions of the geometry go through one vectorized conversion."""
    sink: list[list[float]] = []
    if geometry.get("type") == "GeometryCollection":
        for member in geometry.get("geometries", []):
            _positions(member.get("coordinates", []), sink)
    else:
        _positions(geometry.get("coordinates", []), sink)
    if not sink:
        return
    xy = np.array([(position[0], position[1]) for position in sink], dtype=np.float64)
    lon, lat = from_storage(xy[:, 0], xy[:, 1], datum)
    for position, x, y in zip(sink, lon.tolist(), lat.tolist(), strict=True):
        position[0] = x
        position[1] = y


class DatumFeatureSerializer(GeoFeatureModelSerializer):
    """A GeoJSON Feature whose geometry is in the datum of context["datum"]."""

    def to_representation(self, instance: Model) -> dict[str, Any]:
        feature: dict[str, Any] = super().to_representation(instance)
        geometry = feature.get("geometry")
        if geometry:
            geojson_from_storage(geometry, self.context.get("datum", DEFAULT_DATUM))
        return feature


class PlacedFeatureSerializer(DatumFeatureSerializer):
    """A base-layer record with the codes of the areas it is placed in."""

    cell_code = serializers.CharField(
        read_only=True, allow_null=True, help_text="Grid cell code (15 digits)."
    )
    community_code = serializers.CharField(
        read_only=True, allow_null=True, help_text="Community/village code (12 digits)."
    )
    street_code = serializers.CharField(
        read_only=True, allow_null=True, help_text="Street/town code (9 digits)."
    )
    district_code = serializers.CharField(
        read_only=True, allow_null=True, help_text="District code (6 digits)."
    )


class PersonSerializer(PlacedFeatureSerializer):
    """Population record (人口): name, id_number and phone masked unless the user may see them."""

    personal_data_masked = serializers.SerializerMethodField(
        help_text="True when name, id_number and phone are masked for the requesting user."
    )

    class Meta:
        model = Person
        geo_field = "geom"
        fields = (
            "id",
            "name",
            "id_number",
            "phone",
            "household",
            "address",
            "person_type",
            *PLACEMENT_CODES,
            "updated_at",
            "personal_data_masked",
        )
        read_only_fields = fields

    def get_personal_data_masked(self, person: Person) -> bool:
        return not can_see_personal_data(self.context["request"].user, person)

    def to_representation(self, instance: Model) -> dict[str, Any]:
        assert isinstance(instance, Person)
        feature = super().to_representation(instance)
        properties = feature["properties"]
        unmasked = not properties["personal_data_masked"]
        properties.update(personal_fields(instance, unmasked=unmasked))
        return feature


class LegalEntitySerializer(PlacedFeatureSerializer):
    """Legal entity (法人/单位), keyed by its unified social credit code."""

    class Meta:
        model = LegalEntity
        geo_field = "geom"
        fields = (
            "id",
            "credit_code",
            "name",
            "entity_type",
            "address",
            "status",
            *PLACEMENT_CODES,
            "updated_at",
        )
        read_only_fields = fields


class ComponentSerializer(PlacedFeatureSerializer):
    """Urban component (城市部件) with its catalogue subcategory."""

    category_code = serializers.CharField(
        source="category.code",
        read_only=True,
        help_text="Catalogue subcategory code: major (2 digits) + minor (2 digits).",
    )
    category_name = serializers.CharField(source="category.name", read_only=True)

    class Meta:
        model = Component
        geo_field = "geom"
        fields = (
            "id",
            "code",
            "category_code",
            "category_name",
            "name",
            "competent_unit",
            "owner_unit",
            "maintainer_unit",
            "state",
            *PLACEMENT_CODES,
            "updated_at",
        )
        read_only_fields = fields


class AddressSerializer(PlacedFeatureSerializer):
    """Standard address (标准地址)."""

    class Meta:
        model = Address
        geo_field = "geom"
        fields = (
            "id",
            "code",
            "text",
            "road",
            "house_number",
            "building_name",
            *PLACEMENT_CODES,
            "updated_at",
        )
        read_only_fields = fields


class BuildingSerializer(PlacedFeatureSerializer):
    """Building (建筑物) at its representative point."""

    class Meta:
        model = Building
        geo_field = "geom"
        fields = (
            "id",
            "code",
            "name",
            "address_text",
            "floors",
            *PLACEMENT_CODES,
            "updated_at",
        )
        read_only_fields = fields


class AreaSerializer(DatumFeatureSerializer):
    """An area of the grid hierarchy (city, district, street, community, cell) with its outline."""

    parent_code = serializers.CharField(
        read_only=True, allow_null=True, help_text="Code of the parent area (null for the city)."
    )

    class Meta:
        model = Area
        geo_field = "geom"
        fields = ("id", "tier", "code", "name", "name_en", "parent_code", "valid_from", "valid_to")
        read_only_fields = fields


class CategorySerializer(FieldsBuiltOnce, serializers.ModelSerializer[Category]):
    """A major class (empty minor_code) or a subcategory of the catalogue."""

    code = serializers.CharField(
        read_only=True, help_text="major_code + minor_code (2 digits for a major class)."
    )

    class Meta:
        model = Category
        fields = (
            "id",
            "kind",
            "code",
            "major_code",
            "minor_code",
            "name",
            "name_en",
            "filing_condition",
            "closing_condition",
            "time_limit",
            "urgent_time_limit",
            "limit_unit",
            "urgent_limit_unit",
            "urgent_by_default",
            "default_unit_type",
            "active",
        )
        read_only_fields = fields
