from pathlib import Path

from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from gridmgmt.health import HealthView

admin.site.site_header = _("gridmgmt 网格化管理")
admin.site.site_title = _("gridmgmt")
admin.site.index_title = _("一张图与基础数据")

# Errors under /api/ and /open311/ in their JSON (or Open311) shape, the pages' in HTML.
handler400 = "gridmgmt.api_errors.bad_request"
handler403 = "gridmgmt.api_errors.permission_denied"
handler404 = "gridmgmt.api_errors.page_not_found"
handler500 = "gridmgmt.api_errors.server_error"

# The pages link their icon (map_ui/static/map_ui/favicon.svg); browsers and tools that
# ask for /favicon.ico get the project's icon too, not a 404.
ICONS = Path(__file__).resolve().parent.parent / "map_ui" / "static" / "map_ui"

urlpatterns = [
    path("", RedirectView.as_view(url="/map/", permanent=False)),
    path("favicon.ico", serve, {"path": "favicon.ico", "document_root": ICONS}),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/layers/", include("layers.api.urls")),
    path("api/geocode/", include("incidents.api.geocode")),
    path("api/evaluation/", include("dispatch.api.evaluation")),
    path("api/patrol/", include("patrol.urls")),
    path("api/analysis/", include("analysis.api")),
    path("", include("stewardship.urls")),  # /api/stewardship/, /map/data/review/, …
    path("api/notifications/", include("notifications.urls")),
    path("api/exchange/", include("exchange.urls")),
    path("api/", include("dispatch.api.urls")),
    path("map/", include("map_ui.urls")),
    path("open311/v2/", include("open311.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # Database, Redis and the SLA worker's heartbeat, for monitors (no login; gridmgmt/health.py).
    path("health/", HealthView.as_view(), name="health"),
]
