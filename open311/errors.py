"""Errors as GeoReport v2 says: 404 for what does not exist (service, request, token),
403 for a missing or bad api_key, 400 for anything else; the body is a list of
{code, description}, `code` being the HTTP status."""

from __future__ import annotations

from django.utils.functional import Promise

from incidents.errors import CaseError, CaseNotFound, NotPermitted


class Open311Error(Exception):
    status = 400

    def __init__(self, *descriptions: str | Promise) -> None:
        super().__init__("; ".join(map(str, descriptions)))
        self.descriptions = [str(text) for text in descriptions]

    @classmethod
    def with_status(cls, status: int, *descriptions: str | Promise) -> Open311Error:
        """An error of any status (413, 500...) in the specification's shape."""
        error = cls(*descriptions)
        error.status = status
        return error

    def body(self) -> list[dict[str, object]]:
        return [{"code": self.status, "description": text} for text in self.descriptions]


class BadRequest(Open311Error):
    status = 400


class Forbidden(Open311Error):
    status = 403


class NotFound(Open311Error):
    status = 404


def from_case_error(error: CaseError, fields: dict[str, str]) -> Open311Error:
    """A domain error of intake as the Open311 error a client expects, naming the field
    at fault by its GeoReport name (`fields`: intake's name → the client's)."""
    field = fields.get(error.field, error.field) if error.field else None
    text = f"{field}: {error.message}" if field else error.message
    if isinstance(error, CaseNotFound):
        return NotFound(text)
    if isinstance(error, NotPermitted):
        # The application's service user lost its hotline post: its key cannot file.
        return Forbidden(text)
    return BadRequest(text)  # invalid input, and conflicts (the spec has no 409)
