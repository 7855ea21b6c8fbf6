"""Routes of the case API, mounted at /api/ by gridmgmt.urls."""

from rest_framework.routers import SimpleRouter

from dispatch.api import views

router = SimpleRouter()
router.register("cases", views.CaseViewSet, basename="cases")

urlpatterns = router.urls
