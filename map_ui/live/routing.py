"""WebSocket routes of the live map. gridmgmt.asgi wraps them in the origin check and
the session and token authentication."""

from django.urls import URLPattern, path

from map_ui.live.consumers import LiveConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/live/", LiveConsumer.as_asgi()),  # type: ignore[arg-type]
]
