"""Errors of stewardship, in the API's one JSON shape (they are incidents' CaseError, which
gridmgmt.api_errors renders)."""

from __future__ import annotations

from incidents.errors import CaseError, Conflict, InvalidInput, NotPermitted

__all__ = ["CaseError", "Conflict", "InvalidInput", "NotFound", "NotPermitted"]


class NotFound(CaseError):
    """No such record or proposal among those the user may see."""

    status = 404
    code = "not_found"
