"""Routes of the base-layer API, mounted at /api/layers/ by gridmgmt.urls."""

from rest_framework.routers import SimpleRouter

from layers.api import views

router = SimpleRouter()
router.register("areas", views.AreaViewSet, basename="layers-area")
router.register("people", views.PersonViewSet, basename="layers-person")
router.register("entities", views.LegalEntityViewSet, basename="layers-entity")
router.register("components", views.ComponentViewSet, basename="layers-component")
router.register("addresses", views.AddressViewSet, basename="layers-address")
router.register("buildings", views.BuildingViewSet, basename="layers-building")
router.register("categories", views.CategoryViewSet, basename="layers-category")

urlpatterns = router.urls
