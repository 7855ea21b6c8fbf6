"""Short-lived tokens that open a live-map WebSocket where the session cookie cannot be
sent (the mobile page). A token is the user's id and a ticket (map_ui.live.models: the
session that asked for the token) signed with SECRET_KEY and a timestamp; it opens
sockets for LIVE_TOKEN_MAX_AGE seconds, and only while that session lives.

The token travels in the handshake's Sec-WebSocket-Protocol header, the one header a
browser lets a page set on a WebSocket: the page offers the subprotocols PROTOCOL and
TOKEN_PREFIX + token, and the server answers PROTOCOL. Not in the URL, where proxies and
servers write it into their access logs. (No Django model here: the fan-out bench's
client processes import it without Django.)"""

from __future__ import annotations

from django.conf import settings
from django.core import signing

PROTOCOL = "gridmgmt.live"
TOKEN_PREFIX = "token."  # noqa: S105 (a name prefix, not a secret)

# A salt of its own: no other signed value of the site can pass as a live-map token.
# "." between the parts, not ":": the token is sent as a WebSocket subprotocol name,
# which must be an HTTP token (map_ui.live.auth).
_SIGNER = signing.TimestampSigner(salt="map_ui.live.token", sep=".")


def make_token(user_id: int, ticket: str) -> str:
    return _SIGNER.sign(f"{user_id}-{ticket}")


def read_token(token: str) -> tuple[int, str] | None:
    """The user id and the ticket in `token`, or None if it is forged, malformed or
    expired."""
    try:
        value = _SIGNER.unsign(token, max_age=settings.LIVE_TOKEN_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired is a BadSignature
        return None
    user_id, _, ticket = value.partition("-")
    if not user_id.isdigit() or not ticket.isalnum():
        return None
    return int(user_id), ticket
