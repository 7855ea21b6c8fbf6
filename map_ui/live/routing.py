"""WebSocket routes of the live map."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
