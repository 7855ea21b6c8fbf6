"""Routes of the base-layer API, mounted at /api/layers/ by gridmgmt.urls."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from layers.api import views
from layers.api.locate import LocateView

router = SimpleRouter()
router.register("areas", views.AreaViewSet, basename="layers-area")
router.register("people", views.PersonViewSet, basename="layers-person")
router.register("entities", views.LegalEntityViewSet, basename="layers-entity")
router.register("components", views.ComponentViewSet, basename="layers-component")
router.register("addresses", views.AddressViewSet, basename="layers-address")
router.register("buildings", views.BuildingViewSet, basename="layers-building")
router.register("categories", views.CategoryViewSet, basename="layers-category")

urlpatterns = [
    path("locate/", LocateView.as_view(), name="layers-locate"),
    *router.urls,
]
