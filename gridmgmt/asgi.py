"""ASGI entry point: HTTP through Django, WebSocket through the live map's consumers."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridmgmt.settings")

from django.core.asgi import get_asgi_application

# Django must be set up before the consumers import models.
django_asgi = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from map_ui.live.auth import TokenAuthMiddleware  # noqa: E402
from map_ui.live.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi,
        # A page of another site must not open a WebSocket with the user's cookie: the
        # Origin header must name one of ALLOWED_HOSTS. Then the session's user, or the
        # user of an offered token (map_ui.live.tokens) when there is no session.
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
