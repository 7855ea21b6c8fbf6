"""The live one map: role pages, vector tiles and the live-event token, under /map/."""

from django.urls import include, path

urlpatterns = [
    path("tiles/", include("map_ui.tiles.urls")),
    path("live/", include("map_ui.live.urls")),
    path("", include("map_ui.pages.urls")),
]
