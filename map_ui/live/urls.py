"""HTTP routes of the live map, under /map/live/."""

from django.urls import URLPattern, path

from map_ui.live.views import LiveTokenView

urlpatterns: list[URLPattern] = [
    path("token/", LiveTokenView.as_view(), name="live-token"),
]
