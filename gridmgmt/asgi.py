"""ASGI entry point: HTTP through Django, WebSocket through the live map's consumers."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridmgmt.settings")

from django.core.asgi import get_asgi_application

# Django must be set up before the consumers import models.
django_asgi = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from map_ui.live.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi,
        # map_ui.live.routing wraps its routes in the origin check and authentication.
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
