from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

admin.site.site_header = _("gridmgmt 网格化管理")
admin.site.site_title = _("gridmgmt")
admin.site.index_title = _("一张图与基础数据")

urlpatterns = [
    path("", RedirectView.as_view(url="/map/", permanent=False)),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/layers/", include("layers.api.urls")),
    path("api/geocode/", include("incidents.api.geocode")),
    path("api/evaluation/", include("dispatch.api.evaluation")),
    path("api/", include("dispatch.api.urls")),
    path("map/", include("map_ui.urls")),
    path("open311/v2/", include("open311.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
