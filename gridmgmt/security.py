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

from csp.constants import HEADER, HEADER_REPORT_ONLY, SELF, UNSAFE_INLINE
from csp.middleware import CheckableLazyObject, CSPMiddleware, PolicyParts
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest

# The response attributes by which a view changes or exempts its policy (django-csp's
# decorators); a response with none of them gets the policy of the settings alone.
_PER_RESPONSE = tuple(
    f"_csp_{what}{suffix}"
    for what in ("config", "update", "replace", "exempt")
    for suffix in ("", "_ro")
)

# The policy of the settings alone, built once: (header, value or "", excluded prefixes).
_settings_policy: list[tuple[str, str, tuple[str, ...]]] | None = None


@receiver(setting_changed)
def _forget_settings_policy(**kwargs: Any) -> None:
    global _settings_policy
    _settings_policy = None


def settings_policy() -> list[tuple[str, str, tuple[str, ...]]]:
    """The two headers (enforced, report-only) as django-csp builds them from the settings
    for a response that changes nothing: the same strings for every such response."""
    global _settings_policy
    if _settings_policy is None:
        built = []
        for header, setting, report_only in (
            (HEADER, "CONTENT_SECURITY_POLICY", False),
            (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", True),
        ):
            policy = getattr(settings, setting, None) or {}
            prefixes = tuple(policy.get("EXCLUDE_URL_PREFIXES", None) or ())
            built.append((header, build_policy(report_only=report_only), prefixes))
        _settings_policy = built
    return _settings_policy


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the paths that need inline scripts, and async
    without a thread hop: its two steps only compute a header (MiddlewareMixin would run
    each in a worker thread under ASGI)."""

    async def __acall__(self, request: HttpRequest) -> Any:
        self.process_request(request)
        response = await self.get_response(request)  # type: ignore[misc]
        return self.process_response(request, response)

    def process_response(self, request: HttpRequest, response: Any) -> Any:
        # Most responses (every API answer) use no nonce and change nothing in the policy:
        # their headers are the settings' policy, built once instead of twice per response
        # (django-csp copies the parts and rebuilds the strings: 35 µs of a 1.3 ms GET).
        if (
            getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in _PER_RESPONSE)
            or request.path_info.startswith(tuple(settings.CSP_INLINE_SCRIPT_PATHS))
            or (settings.DEBUG and response.status_code in (404, 500))
        ):
            return super().process_response(request, response)
        for header, policy, excluded in settings_policy():
            if policy and header not in response and not request.path_info.startswith(excluded):
                response[header] = policy
        # As django-csp: a nonce asked for after the header is written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response

    def get_policy_parts(
        self, request: HttpRequest, response: Any, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if request.path_info.startswith(tuple(settings.CSP_INLINE_SCRIPT_PATHS)):
            # A nonce in the policy would make browsers ignore 'unsafe-inline'.
            parts.replace = {**(parts.replace or {}), "script-src": [SELF, UNSAFE_INLINE]}
            parts.nonce = None
        return parts
