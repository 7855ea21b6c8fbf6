"""Read-only API of the one map's base layers, under /api/layers/.

Views only parse, ask, render: the query serializers of filters.py parse and validate the
parameters, layers.access decides which rows the user may see (and whose personal data
unmasked), serializers.py renders GeoJSON in the requested datum.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import F, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.serializers import BaseSerializer

from gridmgmt.kept_lookup import KeptLookupMixin
from layers.access import (
    visible_areas,
    visible_categories,
    visible_records,
    with_personal_access,
)
from layers.api import filters, serializers
from layers.api.pagination import CappedLimitOffsetPagination, GeoJsonLimitOffsetPagination
from layers.models import Address, Area, Building, Category, Component, LegalEntity, Person

# When these errors happen; their body, the API's error shapes, is declared for every
# operation at once (gridmgmt/schema.py).
BAD_QUERY = OpenApiResponse(
    description="A query parameter is invalid: each bad parameter is named with its messages."
)
NOT_FOUND = OpenApiResponse(
    description="No such record, or one the user may not see (the two are indistinguishable)."
)

DATUM_NOTE = (
    " Coordinates are in the datum of the `datum` parameter (WGS 84 by default); `bbox` is "
    "read in that datum too."
)
PLACEMENT_NOTE = (
    " Each record carries the codes of the grid cell, community, street and district it is "
    "placed in. Only records the user may see are listed: an inspector sees their own "
    "cells, a unit's staff see their unit's area, city-level units see the whole city."
)


def _layer_schema(
    *, noun: str, serializer: type[BaseSerializer[Any]], query: type[filters.DatumQuery], extra: str
) -> Any:
    """The list and retrieve documentation of one layer's viewset."""
    return extend_schema_view(
        list=extend_schema(
            summary=f"List {noun}",
            description=f"A page of {noun} as a GeoJSON FeatureCollection.{extra}{DATUM_NOTE}",
            parameters=[query],
            responses={200: serializer, 400: BAD_QUERY},
        ),
        retrieve=extend_schema(
            summary=f"One of the {noun}",
            description="One record as a GeoJSON Feature, in the datum of the `datum` "
            "parameter (WGS 84 by default). A record the user may not see answers 404.",
            parameters=[filters.DatumQuery],
            responses={200: serializer, 400: BAD_QUERY, 404: NOT_FOUND},
        ),
    )


class LayerViewSet(viewsets.ReadOnlyModelViewSet[Any]):
    """Shared plumbing: the list reads every filter, a detail view only the datum."""

    query_class: ClassVar[type[filters.DatumQuery]] = filters.DatumQuery
    pagination_class = GeoJsonLimitOffsetPagination
    _query: filters.DatumQuery | None = None

    def query(self) -> filters.DatumQuery:
        if self._query is None:
            query_class = self.query_class if self.action == "list" else filters.DatumQuery
            query = query_class(data=self.request.query_params.dict())
            query.is_valid(raise_exception=True)
            self._query = query
        return self._query

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return self.query().apply(queryset)

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        if not getattr(self, "swagger_fake_view", False):  # schema generation has no query
            context["datum"] = self.query().validated_data["datum"]
        return context


class PlacedViewSet(LayerViewSet):
    """A base layer: only what layers.access lets the user see, with placement codes."""

    def get_queryset(self) -> QuerySet[Any]:
        rows = visible_records(self.request.user, super().get_queryset())
        return serializers.placed_codes(rows).order_by("pk")


@_layer_schema(
    noun="people",
    serializer=serializers.PersonSerializer,
    query=filters.PersonQuery,
    extra=PLACEMENT_NOTE + " Name, ID number and phone are masked unless the user is a "
    "data administrator for the person's area or the inspector of the person's cell "
    "(see personal_data_masked).",
)
class PersonViewSet(PlacedViewSet):
    queryset = Person.objects.all()
    serializer_class = serializers.PersonSerializer
    query_class = filters.PersonQuery

    def get_queryset(self) -> QuerySet[Any]:
        return with_personal_access(self.request.user, super().get_queryset())


@_layer_schema(
    noun="legal entities",
    serializer=serializers.LegalEntitySerializer,
    query=filters.LegalEntityQuery,
    extra=PLACEMENT_NOTE,
)
class LegalEntityViewSet(PlacedViewSet):
    queryset = LegalEntity.objects.all()
    serializer_class = serializers.LegalEntitySerializer
    query_class = filters.LegalEntityQuery


@_layer_schema(
    noun="urban components",
    serializer=serializers.ComponentSerializer,
    query=filters.ComponentQuery,
    extra=PLACEMENT_NOTE,
)
class ComponentViewSet(PlacedViewSet):
    queryset = Component.objects.select_related("category")
    serializer_class = serializers.ComponentSerializer
    query_class = filters.ComponentQuery


@_layer_schema(
    noun="standard addresses",
    serializer=serializers.AddressSerializer,
    query=filters.AddressQuery,
    extra=PLACEMENT_NOTE,
)
class AddressViewSet(PlacedViewSet):
    queryset = Address.objects.all()
    serializer_class = serializers.AddressSerializer
    query_class = filters.AddressQuery


@_layer_schema(
    noun="buildings",
    serializer=serializers.BuildingSerializer,
    query=filters.BuildingQuery,
    extra=PLACEMENT_NOTE,
)
class BuildingViewSet(PlacedViewSet):
    queryset = Building.objects.all()
    serializer_class = serializers.BuildingSerializer
    query_class = filters.BuildingQuery


@_layer_schema(
    noun="areas",
    serializer=serializers.AreaSerializer,
    query=filters.AreaQuery,
    extra=" Areas are the grid hierarchy (city, district, street, community, cell) and are "
    "readable by every user. Only areas in force are listed unless include_expired is true.",
)
class AreaViewSet(LayerViewSet):
    queryset = Area.objects.all()
    serializer_class = serializers.AreaSerializer
    query_class = filters.AreaQuery

    def get_queryset(self) -> QuerySet[Any]:
        rows = visible_areas(self.request.user, Area.objects.all())
        return rows.annotate(parent_code=F("parent__code")).order_by("code", "pk")


@extend_schema_view(
    list=extend_schema(
        summary="List catalogue categories",
        description="The component and event catalogue (GB/T 30428.2): major classes "
        "(empty minor_code) and subcategories with their time limits.",
        parameters=[filters.CategoryQuery],
        responses={200: serializers.CategorySerializer, 400: BAD_QUERY},
    ),
    retrieve=extend_schema(
        summary="One catalogue category",
        responses={200: serializers.CategorySerializer, 404: NOT_FOUND},
    ),
)
class CategoryViewSet(KeptLookupMixin, viewsets.ReadOnlyModelViewSet[Any]):
    queryset = Category.objects.all()
    serializer_class = serializers.CategorySerializer
    pagination_class = CappedLimitOffsetPagination

    def get_queryset(self) -> QuerySet[Any]:
        return visible_categories(self.request.user, Category.objects.all()).order_by(
            "kind", "major_code", "minor_code"
        )

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.action != "list":
            return queryset
        query = filters.CategoryQuery(data=self.request.query_params.dict())
        query.is_valid(raise_exception=True)
        return query.apply(queryset)
