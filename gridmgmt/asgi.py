"""ASGI entry point: HTTP through Django (its WSGI handler in threads, gridmgmt/wsgi_bridge.py),
WebSocket through the live map's consumers, on one port."""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridmgmt.settings")

from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

# Django must be set up before the consumers import models.
django_asgi = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from gridmgmt.errors_middleware import BodySizeGuard  # noqa: E402
from gridmgmt.overload import busy  # noqa: E402
from gridmgmt.wsgi_bridge import RequestThreads, WsgiBridge  # noqa: E402
from layers.api.locate_fast import LeanLocate  # noqa: E402
from map_ui.live.auth import TokenAuthMiddleware  # noqa: E402
from map_ui.live.routing import websocket_urlpatterns  # noqa: E402

# HTTP: Django's WSGI handler in a pool of threads, one thread per request and no hop
# inside it, a few requests running at once (gridmgmt/wsgi_bridge.py), unless
# settings.HTTP_SERVING says "asgi". The locate endpoint's plain success case is
# answered in front of it (layers/api/locate_fast.py).
http_app = (
    WsgiBridge(
        LeanLocate(get_wsgi_application()),
        RequestThreads(settings.HTTP_THREADS, settings.HTTP_RUNNING, settings.HTTP_LONG_AFTER),
        busy,
        settings.HTTP_QUEUE_WAIT,
    )
    if settings.HTTP_SERVING == "wsgi"
    else django_asgi
)

application = ProtocolTypeRouter(
    {
        # An oversized body is refused from its headers, before Django reads it.
        "http": BodySizeGuard(http_app),
        # A page of another site must not open a WebSocket with the user's cookie: the
        # Origin header must name one of ALLOWED_HOSTS. Then the session's user, or the
        # user of an offered token (map_ui.live.tokens) when there is no session.
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)

# What is loaded by now (Django, the URLconf and its views, folium, pandas: ~176,000
# objects) lives as long as the process. It is frozen out of the garbage collector,
# whose full collections walked all of it every time: 80 ms with the event loop, and so
# every request and socket of the process, stopped (docs/performance.md).
get_resolver().url_patterns  # noqa: B018 (imports the views now, so they are frozen too)
gc.collect()
gc.freeze()
