"""Limit/offset pages with a cap, as GeoJSON FeatureCollections for the map layers."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class CappedLimitOffsetPagination(LimitOffsetPagination):
    """`limit` (default 100, at most 1000: larger values are cut to 1000) and `offset`.

    A value that is not a non-negative integer is a 400 naming the parameter, not
    silently replaced by the default as in DRF's own class."""

    default_limit = DEFAULT_LIMIT
    max_limit = MAX_LIMIT
    limit_query_description = "Number of results per page: default 100, at most 1000."
    offset_query_description = "Number of results to skip from the start of the list."

    def _parameter(self, request: Request, name: str, *, minimum: int) -> int | None:
        raw = request.query_params.get(name)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise serializers.ValidationError(
                {name: [_("Must be an integer of at least %d.") % minimum]}
            )
        return value

    def get_limit(self, request: Request) -> int | None:
        limit = self._parameter(request, self.limit_query_param, minimum=1)
        if limit is None:
            return self.default_limit
        return min(limit, self.max_limit)

    def get_offset(self, request: Request) -> int:
        return self._parameter(request, self.offset_query_param, minimum=0) or 0


class GeoJsonLimitOffsetPagination(CappedLimitOffsetPagination):
    """A page of features as a GeoJSON FeatureCollection with count, next and previous."""

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "type": "FeatureCollection",
                "count": self.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "features": data["features"],
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        base = super().get_paginated_response_schema(schema)
        properties = base["properties"]
        properties.pop("results")
        ref = schema.get("$ref", "")
        if ref.endswith("List"):
            # drf-spectacular's rest_framework_gis support describes a list of features as
            # a whole FeatureCollection component named "<Feature>List"; a page nests only
            # the features, so point at the Feature component itself.
            properties["features"] = {"type": "array", "items": {"$ref": ref.removesuffix("List")}}
        else:
            properties["features"] = schema
        base["properties"] = {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            **properties,
        }
        base["required"] = ["type", "count", "features"]
        return base
