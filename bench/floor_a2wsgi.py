"""The project's HTTP served by a2wsgi's WSGIMiddleware (PyPI `a2wsgi`) in place of
gridmgmt/wsgi_bridge.py, for the request-floor bench's comparison (`--a2wsgi`): the same
WSGI handler, body-size guard and number of threads; only the bridge differs."""

from a2wsgi import WSGIMiddleware
from django.conf import settings
from django.core.wsgi import get_wsgi_application

import gridmgmt.asgi  # noqa: F401 (Django set up, the URLconf loaded and frozen, as served)
from gridmgmt.errors_middleware import BodySizeGuard

app = BodySizeGuard(WSGIMiddleware(get_wsgi_application(), workers=settings.HTTP_THREADS))  # type: ignore[arg-type]
