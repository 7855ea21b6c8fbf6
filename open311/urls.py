"""GeoReport v2 under /open311/v2/: every resource in XML and JSON, by its suffix.
Anything else under the prefix answers 404 with the specification's error body."""

from django.urls import URLPattern, re_path

from open311 import views

FORMAT = r"\.(?P<fmt>[A-Za-z0-9]+)$"

urlpatterns: list[URLPattern] = [
    re_path(r"^$", views.discovery, {"fmt": "xml"}, name="open311-root"),
    re_path(rf"^discovery{FORMAT}", views.discovery, name="open311-discovery"),
    re_path(rf"^services{FORMAT}", views.service_list, name="open311-services"),
    re_path(
        rf"^services/(?P<code>[^/]+){FORMAT}", views.service_definition, name="open311-service"
    ),
    re_path(rf"^requests{FORMAT}", views.service_requests, name="open311-requests"),
    re_path(
        rf"^requests/(?P<request_id>[^/]+){FORMAT}", views.service_request, name="open311-request"
    ),
    re_path(rf"^tokens/(?P<token>[^/]+){FORMAT}", views.token, name="open311-token"),
    re_path(r"^(?P<path>.*)$", views.unknown),
]
