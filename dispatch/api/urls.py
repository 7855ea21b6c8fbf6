"""Routes of the case API, mounted at /api/ by gridmgmt.urls."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from dispatch.api import views
from dispatch.api.export import CaseExportView
from dispatch.api.saved_filters import SavedFilterViewSet

router = SimpleRouter()
router.register("cases", views.CaseViewSet, basename="cases")
router.register("saved-filters", SavedFilterViewSet, basename="saved-filters")

urlpatterns = [
    # The case list as a file: /api/cases/export.csv, /api/cases/export.xlsx.
    path("cases/export.<str:fmt>", CaseExportView.as_view(), name="cases-export"),
    *router.urls,
]
