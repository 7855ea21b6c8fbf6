"""ASGI entry point: HTTP through Django; WebSocket routes join here with the live map."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridmgmt.settings")

from channels.routing import ProtocolTypeRouter
from django.core.asgi import get_asgi_application

application = ProtocolTypeRouter({"http": get_asgi_application()})
