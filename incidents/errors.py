"""Domain errors of the case loop: each carries a message a person can act on, the HTTP
status the API answers with, and (for bad input) the field at fault."""

from __future__ import annotations

from django.utils.functional import Promise


class CaseError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str | Promise, *, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = str(message)
        self.field = field


class InvalidInput(CaseError):
    """The request itself is wrong: a missing or malformed field."""


class NotPermitted(CaseError):
    """The user's role may not do this to a case they can see."""

    status = 403
    code = "not_permitted"


class CaseNotFound(CaseError):
    """No such case among those the user may see (unknown and out of scope look alike)."""

    status = 404
    code = "not_found"


class Conflict(CaseError):
    """The case is not (or no longer) in a state that allows the action, or the same
    client id was used for a different report."""

    status = 409
    code = "conflict"
