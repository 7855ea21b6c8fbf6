"""Logging of the project (settings.LOGGING)."""

from __future__ import annotations

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """On django.request: Django logs each refused request (a 403 for PermissionDenied,
    a 404) as a warning with the exception's traceback. The answer is the expected one,
    the request's own fault, and the traceback only buries the server's real errors in
    the log. Keeps the warning's line and drops its traceback; a 5xx keeps its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
