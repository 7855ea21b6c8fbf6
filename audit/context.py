"""What the audit trail needs to know about the request being served, kept for the
request's duration (AuditMiddleware sets it; code far from the request, such as the
function that unmasks a person's phone number, adds to it)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

# At most this many object ids per type are named in one personal-data read entry (the
# count is always exact); a page of a list is 100 rows, at most 1,000.
MAX_IDS_PER_TYPE = 1000


@dataclass
class Trace:
    ip: str | None
    user_agent: str
    # Object type → ids whose personal data this request showed unmasked.
    personal_reads: dict[str, set[str]] = field(default_factory=dict)
    # The view recorded its own successful write inside its transaction
    # (audit.middleware.atomic_write): the middleware records the request only if it failed.
    write_recorded: bool = False


# Mutated, never re-set, inside a request: a sync view runs in a copy of the context
# (asgiref), and what it adds must be seen by the middleware after it.
current: ContextVar[Trace | None] = ContextVar("audit_trace", default=None)


def note_personal_read(object_type: str, object_id: object) -> None:
    """Personal data of this object is being shown unmasked. Cheap: a set insertion; the
    request's one audit entry is written by AuditMiddleware when the response is ready.
    Outside a request (a management command run on the server) nothing is recorded."""
    trace = current.get()
    if trace is not None:
        trace.personal_reads.setdefault(object_type, set()).add(str(object_id))
