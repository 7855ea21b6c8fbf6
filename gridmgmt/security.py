"""Content-Security-Policy (django-csp) for every response, and the HTTPS settings'
helpers. The policy itself is in settings.CONTENT_SECURITY_POLICY (docs/deployment.md).

Pages load scripts, styles and images from this server only (and the base map's tiles
from MAP_TILE_URL's server). Inline scripts run only with the response's nonce: the map
pages' folium script carries it (map_ui/pages/maps.py). Two staff-only places render
inline scripts they do not control and have no nonce to give them: the admin's map
widget (Django's OpenLayers template) and Swagger UI (drf-spectacular); under
CSP_INLINE_SCRIPT_PATHS, inline scripts are allowed instead.
"""

from __future__ import annotations

from typing import Any

from csp.constants import SELF, UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the paths that need inline scripts, and async
    without a thread hop: its two steps only compute a header (MiddlewareMixin would run
    each in a worker thread under ASGI)."""

    async def __acall__(self, request: HttpRequest) -> Any:
        self.process_request(request)
        response = await self.get_response(request)  # type: ignore[misc]
        return self.process_response(request, response)

    def get_policy_parts(
        self, request: HttpRequest, response: Any, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if request.path_info.startswith(tuple(settings.CSP_INLINE_SCRIPT_PATHS)):
            # A nonce in the policy would make browsers ignore 'unsafe-inline'.
            parts.replace = {**(parts.replace or {}), "script-src": [SELF, UNSAFE_INLINE]}
            parts.nonce = None
        return parts
