"""The API token in the OpenAPI schema (drf-spectacular): an HTTP bearer scheme, so that
Swagger UI's "Authorize" sends `Authorization: Bearer <token>`, which the API accepts as
it accepts `Token <token>`."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "API token: manage.py issue_api_token, or the admin.",
        }
