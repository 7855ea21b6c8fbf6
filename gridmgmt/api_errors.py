"""One JSON shape for the domain errors of every API: {"detail", "code", "field"}."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from incidents.errors import CaseError


def exception_handler(error: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(error, CaseError):
        body = {"detail": error.message, "code": error.code, "field": error.field}
        return Response(body, status=error.status)
    return drf_exception_handler(error, context)
