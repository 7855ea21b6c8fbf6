"""The locate endpoint's common case without Django's whole request machinery.

GET /api/layers/locate/ (layers.api.locate.LocateView) is asked for every point a
phone or an operator's map moves to. Through Django it costs what every signed-in API
request costs — the middleware chain, the session and the user with their post as model
instances, DRF's request, permissions, throttles and content negotiation — about twice
what this path costs, server and database together (docs/performance.md, "Locate in
front of Django").

LeanLocate is a WSGI application in front of Django's. It answers a request itself only
when that request is the plain success case, and hands every other request to Django
untouched, before it has changed anything:

- GET of a path Django routes to LocateView, no Authorization header (API tokens are
  Django's), no query parameter but lon, lat and datum, an Accept that DRF answers
  with JSON;
- a session this process has read before (gridmgmt.sessions remembers its user's id),
  not expired, whose signed data names that user and the backend that reads users
  with their post, with the session's hash of the password matching the current secret;
- the user active and a superuser or on a post (LocateView's permissions);
- the point checked and converted by layers.geoinput, and in a grid cell hung under a
  district, by this process's copy of the grid (layers.gridcache) when it is current;
- the API's rate limit not reached (counted once, as DRF counts it).

So every refusal — bad input, a point outside the city, an anonymous, expired or
foreign session, a user without a post, a rate limit reached — is Django's own answer,
word for word, in the user's language. The one statement here reads the session, the
user and the grid's stamp together (prepared after a few runs, on a pooled connection
held only for it: _read); the point is placed in the process's copy of the cells, which
answers as layers.placement's statement does, borders included, and is loaded again
when the stamp has changed. Django's path runs a statement for the session with its
user and another for the placement. What does not change from one request to the next
is worked out once: a session's signature and password hash (_signed_in), a cell's
body in each language (kept with the grid's copy), the headers.

What Django's middleware does for a GET of locate, and how it is kept here:

- DatabaseUnavailableMiddleware: a database error hands the request to Django, which
  meets it again and answers its 503.
- SecurityMiddleware, CommonMiddleware: their request steps run first (an HTTPS
  redirect, a disallowed host or user agent hand the request to Django); their response
  steps make the answer's headers (nosniff, Referrer-Policy, COOP, HSTS; Content-Length).
- SessionMiddleware: the session is read, not changed: `Vary: Cookie`, as Django adds
  for a session accessed (with SESSION_SAVE_EVERY_REQUEST, Django serves).
- ChosenLanguageMiddleware: the same choice of language, for the names and
  Content-Language.
- XFrameOptionsMiddleware, ContentSecurityPolicyMiddleware: their response steps too.
  The headers depend on the language, on HTTPS and on the body's length, not on the
  point: they are made by these steps once per process for each (LeanLocate._headers).
- WhiteNoise (static files), api_guard (a NUL in the address: handed to Django), CSRF
  (nothing for a GET that sets no token), AuditMiddleware (nothing for a read of no
  personal data), messages (none used), axes (sign-ins only): nothing to do.

The list is checked: should settings.MIDDLEWARE, or LocateView's authentication,
permission, throttle or renderer classes, differ from those this was written for, or the
URLconf route these paths elsewhere, every request goes to Django.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from functools import cache
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl

import psycopg
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.core import signals, signing
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.db import Error as DatabaseError
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.http.cookie import parse_cookie
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import Resolver404, resolve
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.crypto import constant_time_compare
from rest_framework.renderers import JSONRenderer

from accounts.throttling import UserThrottle
from gridmgmt import sessions
from gridmgmt.security import ContentSecurityPolicyMiddleware
from layers import gridcache
from layers.api.locate import TIERS, LocateView
from layers.datum import DEFAULT_DATUM, UnknownDatum, parse_datum, point_to_storage
from layers.geoinput import BadCoordinates, check_lonlat
from layers.kept_statements import kept_cursor
from layers.models import Staff
from layers.models.areas import in_language

log = logging.getLogger(__name__)
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# The paths served, if the URLconf routes them to LocateView (/api/geocode/locate/ is
# the same view under its older address).
PATHS = ("/api/layers/locate/", "/api/geocode/locate/")
PARAMETERS = frozenset({"lon", "lat", "datum"})
# What DRF answers with JSON (its first renderer) without a format parameter.
JSON_ACCEPTS = frozenset({"", "*/*", "application/json"})
# The backend whose get_user() is "the user with their post, if active" (layers.auth).
BACKEND = "layers.auth.UserAndPostBackend"

# The middleware this module was written for (see above). Any change: Django serves.
MIDDLEWARE = (
    "gridmgmt.overload.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "gridmgmt.middleware.ChosenLanguageMiddleware",
    "gridmgmt.errors_middleware.api_guard_middleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "gridmgmt.sessions.UserWithSessionMiddleware",
    "audit.middleware.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "gridmgmt.security.ContentSecurityPolicyMiddleware",
    "axes.middleware.AxesMiddleware",
)


# What LocateView authenticates, permits, throttles and renders with, as this module
# does it (see above). Any change: Django serves.
VIEW_CLASSES = (
    (
        "rest_framework.authentication.SessionAuthentication",
        "accounts.authentication.ApiTokenAuthentication",
    ),
    ("rest_framework.permissions.IsAuthenticated", "layers.api.locate.IsStaff"),
    ("accounts.throttling.UserThrottle", "accounts.throttling.AnonThrottle"),
    ("rest_framework.renderers.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"),
)


def _view_classes() -> tuple[tuple[str, ...], ...]:
    kinds: tuple[Any, ...] = (
        LocateView.authentication_classes,
        LocateView.permission_classes,
        LocateView.throttle_classes,
        LocateView.renderer_classes,
    )
    # A permission combined with & or | is no class: its repr names it, and differs.
    return tuple(
        tuple(f"{c.__module__}.{getattr(c, '__qualname__', repr(c))}" for c in classes)
        for classes in kinds
    )


def _no_response(request: Any) -> Any:
    raise AssertionError("only the middleware's own steps are called")


class LeanLocate:
    """WSGI: locate's plain success case here, everything else to `app` (Django)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.paths = frozenset(p for p in PATHS if _routes_to_locate(p))
        if tuple(settings.MIDDLEWARE) != MIDDLEWARE or _view_classes() != VIEW_CLASSES:
            self.paths = frozenset()
        if settings.SESSION_SAVE_EVERY_REQUEST:  # Django would write the session: its own
            self.paths = frozenset()
        self.security = SecurityMiddleware(_no_response)
        self.common = CommonMiddleware(_no_response)
        self.frame = XFrameOptionsMiddleware(_no_response)
        self.csp = ContentSecurityPolicyMiddleware(_no_response)
        self.renderer = JSONRenderer()
        view = LocateView()
        view.setup(HttpRequest())  # as as_view() does: HEAD is answered as GET
        self.allow = ", ".join(view.allowed_methods)
        self._made: dict[tuple[str, bool, int], list[tuple[str, str]]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") in self.paths and environ.get("REQUEST_METHOD") == "GET":
            answer = self.answer(environ)
            if answer is not None:
                headers, body = answer
                start_response("200 OK", list(headers))  # a list of its own: kept ones are shared
                return [body]
        return self.app(environ, start_response)

    def answer(self, environ: dict[str, Any]) -> tuple[list[tuple[str, str]], bytes] | None:
        """The headers and body of this request's 200, or None: Django answers it."""
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            return self._answer(environ)
        except DatabaseError:
            return None  # Django meets it again, and answers as it does (503)
        except Exception:
            # A fault of this path must not cost the user an answer: logged, and Django
            # serves the request.
            log.exception("lean locate failed; Django serves the request")
            return None
        finally:
            signals.request_finished.send(sender=self.__class__)

    def _answer(self, environ: dict[str, Any]) -> tuple[list[tuple[str, str]], bytes] | None:
        if "HTTP_AUTHORIZATION" in environ or environ.get("SCRIPT_NAME"):
            return None
        if environ.get("HTTP_ACCEPT", "").strip() not in JSON_ACCEPTS:
            return None
        query = environ.get("QUERY_STRING", "")
        if "\x00" in query or "%00" in query:
            return None  # api_guard's refusal
        params = _parameters(query)
        if params is None:
            return None
        try:
            datum = parse_datum(params.get("datum") or DEFAULT_DATUM.value)
            # layers.geoinput.storage_point's steps without its GEOS point: the point is
            # only looked up in this process's copy of the grid.
            lon, lat = check_lonlat(params.get("lon"), params.get("lat"), datum)
            x, y = point_to_storage(lon, lat, datum)
        except (UnknownDatum, BadCoordinates):
            return None
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        cookies = parse_cookie(environ.get("HTTP_COOKIE", ""))
        key = cookies.get(settings.SESSION_COOKIE_NAME)
        # The user id this process read in the session before (gridmgmt.sessions).
        user_id = sessions._users_of_sessions.get(key) if key else None
        if key is None or user_id is None:
            return None
        request = WSGIRequest(environ)
        try:
            if self.security.process_request(request) or self.common.process_request(request):
                return None
        except DisallowedHost:
            return None

        row = _read([user_id, key, timezone.now()])
        if row is None:
            return None  # no such session, or expired
        data, password, active, superuser, post, stamp = row
        if password is None or not active or not (superuser or post):
            return None  # no such user, inactive, or no post: Django's 401/403
        if not _signed_in(key, data, user_id, password):
            return None
        grid = gridcache.current(stamp)
        if grid is None:
            return None  # another thread's load of the changed grid took too long
        cell = grid.cell_at(x, y)
        if cell is None or grid.areas[cell] is None:
            return None  # outside the city, or a cell not hung under a district
        # The API's rate limit, counted as DRF counts it (a Redis fault lets the request
        # through, logged); reached: Django counts again and answers its 429. The
        # throttle reads the user's id and that they are signed in, nothing else.
        user = SimpleNamespace(pk=user_id, is_authenticated=True)
        if not UserThrottle().allow_request(SimpleNamespace(user=user), None):
            return None

        chosen = cookies.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if translation.check_for_language(chosen) else settings.LANGUAGE_CODE
        # A cell's body depends on the cell and the language, not on the point: made
        # once for each in this copy of the grid, then sent as made.
        body = grid.made.get((cell, language))
        if body is None:
            body = grid.made[(cell, language)] = self._body(grid.areas[cell], language)
        return self._headers(request, language, len(body)), body

    def _body(self, areas: gridcache.Areas, language: str) -> bytes:
        """The JSON of `areas` (cell first), as LocateView renders them in `language`."""
        assert areas is not None
        with translation.override(language):
            # The copy holds cell, community, street, district: TIERS upside down.
            body = {
                tier: {"code": code, "name": in_language(name, name_en)}
                for tier, (code, name, name_en) in zip(TIERS, reversed(areas), strict=True)
            }
        content: bytes = self.renderer.render(body)
        return content

    def _headers(self, request: WSGIRequest, language: str, length: int) -> list[tuple[str, str]]:
        """The headers of a 200 of locate with a body of `length` bytes. They depend on
        the language and on whether the request came over HTTPS (HSTS), not on the
        point: made by the middleware's own steps (_response) once for each language,
        scheme and length (a few lengths: the names' lengths vary little)."""
        key = (language, request.is_secure(), length)
        headers = self._made.get(key)
        if headers is None:
            made = self._response(request, b"", language).items()
            headers = [(k, str(length) if k == "Content-Length" else v) for k, v in made]
            self._made[key] = headers
        return headers

    def _response(self, request: WSGIRequest, content: bytes, language: str) -> HttpResponse:
        """A response with the headers DRF and the middleware give LocateView's."""
        response = HttpResponse(content, content_type="application/json")
        response["Allow"] = self.allow
        patch_vary_headers(response, ("Accept",))  # DRF: more than one renderer
        # Inside out, as Django's handler runs them; each sets headers on the response
        # it is given and returns it.
        self.csp.process_response(request, response)
        self.frame.process_response(request, response)
        self.common.process_response(request, response)
        response.headers.setdefault("Content-Language", language)
        patch_vary_headers(response, ("Cookie",))  # the session was read
        self.security.process_response(request, response)
        return response


def _routes_to_locate(path: str) -> bool:
    try:
        match = resolve(path)
    except Resolver404:
        return False
    return getattr(match.func, "view_class", None) is LocateView


@cache
def _statement() -> str:
    """The session (if not expired), its user's password, is_active and is_superuser,
    whether they hold a post, and the grid's stamp (layers.gridcache: whether this
    process's copy of the cells is current)."""
    from django.contrib.sessions.models import Session

    user = get_user_model()._meta.db_table
    return (
        f"SELECT e.session_data, u.password, u.is_active, u.is_superuser, s.id, g.stamp"
        f" FROM {Session._meta.db_table} e"
        f" LEFT JOIN {user} u ON u.id = %s"
        f" LEFT JOIN {Staff._meta.db_table} s ON s.user_id = u.id"
        f" CROSS JOIN layers_gridstamp g"
        f" WHERE e.session_key = %s AND e.expire_date > %s"
    )


def _read(params: list[Any]) -> tuple[Any, ...] | None:
    """The row of _statement() for `params`, on a pooled connection held only for it.

    The connection goes back at once, not at the request's end: what follows (the
    session's signature, the placement, the rate limit, the body) needs none, and
    requests holding it through that made others wait for the pool. It is taken from
    the pool and given back without Django's connect() and close(), which cost as much
    again as the statement's round trip in this process (docs/performance.md): the
    backend's own get_new_connection() takes it (with gridmgmt.database's fail-fast
    checks), errors become Django's as its cursors make them, and the pool takes it
    back as Django's close() gives it. Django's connection serves instead when this
    thread holds it already (a test's transaction), there is no pool, or statements are
    logged or wrapped (DEBUG, a test counting queries), so that they see this one too."""
    pool = getattr(connection, "pool", None)  # PostgreSQL's wrapper has one, or None
    if (
        pool is None
        or connection.connection is not None
        or connection.queries_logged
        or connection.execute_wrappers
    ):
        with kept_cursor() as cursor:
            cursor.execute(_statement(), params)
            row = cursor.fetchone()
        if not connection.in_atomic_block:
            connection.close()
        return row
    with connection.wrap_database_errors:
        pooled = connection.get_new_connection({})  # (its parameters serve no pool)
        try:
            # Parameters bound on the server: prepared after the connection's
            # prepare_threshold runs, as a kept statement is (layers.kept_statements).
            raw = psycopg.Cursor(pooled)
            raw.execute(_statement(), params)
            return raw.fetchone()
        finally:
            pool.putconn(pooled)


# Sessions found signed in (_signed_in), with what was checked; forgotten all at once
# when full.
_signed: set[tuple[Any, ...]] = set()
KEPT_SIGNED = 20_000


def _signed_in(key: str, data: str, user_id: int, password: str) -> bool:
    """Whether the session's `data` names the user `user_id`, signed in by BACKEND, with
    the hash of their `password` under the current secret (django.contrib.auth.get_user's
    checks; anything else — a fallback secret, a flushed session — is Django's to
    handle). The answer depends on these and the secret only: a yes is remembered, and
    the signature and the two hashes are not computed again for the session's next
    requests (a tenth of the path's CPU). Data rewritten, a password changed or the
    secret rotated make another key, checked afresh."""
    if BACKEND not in settings.AUTHENTICATION_BACKENDS:
        return False
    # The signature is also good under a fallback secret, the hash only under the secret.
    checked = (key, data, user_id, password, settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)
    if checked in _signed:
        return True
    store = sessions.SessionStore()
    try:  # SessionStore.decode() without its log line: Django, served next, writes it
        decoded = signing.loads(data, salt=store.key_salt, serializer=store.serializer)
    except (signing.BadSignature, ValueError):
        return False
    if decoded.get(BACKEND_SESSION_KEY) != BACKEND or str(decoded.get(SESSION_KEY)) != str(user_id):
        return False
    user = get_user_model()(pk=user_id, password=password)
    session_hash = decoded.get(HASH_SESSION_KEY)
    if not session_hash or not constant_time_compare(session_hash, user.get_session_auth_hash()):
        return False
    if len(_signed) >= KEPT_SIGNED:
        _signed.clear()
    _signed.add(checked)
    return True


def _parameters(query: str) -> dict[str, str] | None:
    """The query's parameters as QueryDict reads them (the last of a repeated name
    wins), or None if it names any but lon, lat and datum, or too many. QueryDict itself
    cost a twentieth of the path's CPU."""
    try:
        pairs = parse_qsl(
            query,
            keep_blank_values=True,
            encoding=settings.DEFAULT_CHARSET,
            max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
        )
    except ValueError:
        return None  # too many fields: Django's refusal
    params = dict(pairs)
    return params if params.keys() <= PARAMETERS else None
