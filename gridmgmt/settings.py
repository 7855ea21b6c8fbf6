"""Django settings. Everything that differs between machines comes from the environment."""

from pathlib import Path
from urllib.parse import urlsplit

from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE

from gridmgmt.database.connections import WatchedConnection
from gridmgmt.env import database_from_url, env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me-in-production")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", ["http://127.0.0.1:8000"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_gis",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",  # lockout after repeated failed sign-ins (accounts/lockout.py)
    "csp",  # Content-Security-Policy (gridmgmt/security.py)
    "accounts",
    "layers",
    "incidents",
    "dispatch",
    "open311",
    "map_ui",
    "audit",  # the audit trail and the database roles (audit/roles.py)
    "notifications",  # inbox, e-mail and SMS messages (docs/notifications.md)
    "exchange",  # provincial 12345 exchange, outbound webhooks (docs/exchange.md)
    "analysis",  # decision analysis: hot spots, trends, recurring spots (docs/analysis.md)
    "stewardship",  # 一数一源, 一级采集, data quality (docs/stewardship.md)
    "patrol",  # 巡查: duty, positions partitioned by day, coverage (patrol/models.py)
    "simulation",  # simulate_city: history through the real services (docs/simulation.md)
]

# Django's ModelBackend, loading the user's post in the same query (layers/auth.py).
# First, axes' check: a locked-out user or address is refused before any password hash.
AUTHENTICATION_BACKENDS = ["accounts.lockout.LockoutBackend", "layers.auth.UserAndPostBackend"]
# Database sessions, read with one plain statement (gridmgmt/sessions.py).
SESSION_ENGINE = "gridmgmt.sessions"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/map/"
LOGOUT_REDIRECT_URL = "login"

MIDDLEWARE = [
    # First: a database that cannot be reached answers 503 at once (gridmgmt/overload.py).
    "gridmgmt.overload.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "gridmgmt.middleware.ChosenLanguageMiddleware",
    # /api/ and /open311/: oversized bodies (413), NUL in the address, non-UTF-8 bodies.
    "gridmgmt.errors_middleware.api_guard_middleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, the user read with the session in one statement (gridmgmt/sessions.py).
    "gridmgmt.sessions.UserWithSessionMiddleware",
    # The request's address for the audit trail; unmasked reads and API writes (audit/).
    "audit.middleware.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "gridmgmt.security.ContentSecurityPolicyMiddleware",
    # Last, as axes asks: turns a locked-out sign-in into its 429 page (accounts/lockout.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "gridmgmt.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "gridmgmt" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]
ASGI_APPLICATION = "gridmgmt.asgi.application"
# How gridmgmt.asgi serves HTTP: "wsgi" (Django's WSGI handler in HTTP_THREADS threads
# of each server process, no thread hop inside a request: gridmgmt/wsgi_bridge.py) or
# "asgi" (Django's ASGI handler). WebSockets are served by Channels either way, on the
# same port. Figures: docs/performance.md, "Request floor".
HTTP_SERVING = env_str("GRIDMGMT_HTTP_SERVING", "wsgi")
# Requests running at once in each server process: a few keep its core busy, more only
# wait on the interpreter's lock. One that has run HTTP_LONG_AFTER seconds (an import, a
# download to a slow phone) stops counting and the next starts beside it, in up to
# HTTP_THREADS threads (more than DATABASE_POOL_SIZE: requests beyond the pool wait for
# a connection and fail fast). A request that no thread took within HTTP_QUEUE_WAIT
# seconds is answered 503 (gridmgmt/wsgi_bridge.py, docs/performance.md "Request floor").
HTTP_RUNNING = env_int("GRIDMGMT_HTTP_RUNNING", 2)
HTTP_LONG_AFTER = env_float("GRIDMGMT_HTTP_LONG_AFTER", 0.1)
HTTP_THREADS = env_int("GRIDMGMT_HTTP_THREADS", 32)
HTTP_QUEUE_WAIT = env_float("GRIDMGMT_HTTP_QUEUE_WAIT", 0.5)

DATABASES = {
    "default": database_from_url(
        env_str("DATABASE_URL", "postgres://gridmgmt:gridmgmt@127.0.0.1:5432/gridmgmt")
    )
}
# A pool of connections per server process (psycopg_pool): opening a connection per
# request costs more than a small query, and under ASGI each request runs in its own
# thread, so persistent per-thread connections (CONN_MAX_AGE) would pile up.
# DATABASE_POOL_SIZE=0 opens one connection per request instead.
_pool_size = env_int("DATABASE_POOL_SIZE", 8)
# Overload fails fast (gridmgmt/overload.py): a request waits at most this many seconds
# for a pooled connection, then answers 503 with Retry-After, well within a second.
DATABASE_POOL_TIMEOUT = env_float("DATABASE_POOL_TIMEOUT", 0.5)
# Seconds to open a new connection (libpq counts at least 2). With the pool, connections
# are opened in the background, so a request never waits this long.
DATABASE_CONNECT_TIMEOUT = env_int("DATABASE_CONNECT_TIMEOUT", 3)
# For this many seconds after an attempt to connect failed (PostgreSQL down), a request
# answers 503 at once instead of waiting DATABASE_POOL_TIMEOUT; past half of it, one
# request probes PostgreSQL in the background (gridmgmt/database/base.py).
DATABASE_KNOWN_DOWN_SECONDS = env_float("DATABASE_KNOWN_DOWN_SECONDS", 2.0)
_prepare_threshold = env_int("DATABASE_PREPARE_THRESHOLD", 5) or None
DATABASES["default"]["OPTIONS"] = {
    "connect_timeout": DATABASE_CONNECT_TIMEOUT,
    # psycopg prepares a statement after this many runs on a connection. The ORM binds
    # parameters in the client and is never prepared; only the hot paths' kept statements
    # are (layers/kept_statements.py). 0 turns preparing off, as Django's default does,
    # for a database reached through a pooler such as PgBouncer in transaction mode.
    "prepare_threshold": _prepare_threshold,
}
# Each pooled connection is checked (one empty statement) before a request gets it, so
# that a connection broken by a database restart is dropped, never handed out again;
# not when the pool handed it out less than this many seconds ago (it worked then; 0:
# check every time). A connection cut within that second fails its request with a 503.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASE_POOL_CHECK_AFTER = env_float("DATABASE_POOL_CHECK_AFTER", 1.0)
# PostGIS, with a request that found the database unavailable failing at once on its
# later queries instead of waiting again (gridmgmt/database/base.py, gridmgmt/overload.py).
DATABASES["default"]["ENGINE"] = "gridmgmt.database"
if _pool_size:
    pool = {
        "min_size": 1,
        "max_size": _pool_size,
        "timeout": DATABASE_POOL_TIMEOUT,
        # The pool retries a lost connection with growing pauses (1, 2, 4 s ...): it
        # gives up after this many seconds, and the next request starts a new attempt
        # at once, so service returns within seconds of the database, however long the
        # outage was.
        "reconnect_timeout": 3.0,
        # Notes when an attempt to connect failed (gridmgmt/database/connections.py).
        "connection_class": WatchedConnection,
    }
    DATABASES["default"]["OPTIONS"]["pool"] = pool
# Seconds a client is told to wait (Retry-After) when the database is unavailable.
OVERLOAD_RETRY_AFTER = env_int("OVERLOAD_RETRY_AFTER", 5)
# The set-up script keeps a template database with PostGIS and pg_trgm installed, so
# the test database can be created by a role that is not a superuser. Empty = template1.
_test_template = env_str("DATABASE_TEST_TEMPLATE", "gridmgmt_template")
_test_name = env_str("DATABASE_TEST_NAME", "")  # to run two suites at once on one server
# ... and on one Redis: their rate counters and live events apart (the prefixes below).
_suite = f"-{_test_name}" if _test_name else ""
DATABASES["default"]["TEST"] = {
    key: value for key, value in {"TEMPLATE": _test_template, "NAME": _test_name}.items() if value
}
# The owner role (audit/roles.py, docs/deployment.md): `migrate`, `flush` and
# `purge_audit` connect as it; the application (DATABASE_URL) does not own the tables, so
# it cannot TRUNCATE the case history or the audit trail, nor disable their triggers. The
# local set-up creates both roles. With DATABASE_URL and no DATABASE_OWNER_URL, one role
# does everything and `manage.py check` warns (audit.W001).
_local_owner = "postgres://gridmgmt_owner:gridmgmt_owner@127.0.0.1:5432/gridmgmt"
_owner_url = env_str("DATABASE_OWNER_URL", "" if env_str("DATABASE_URL", "") else _local_owner)
DATABASES["owner"] = (
    database_from_url(_owner_url)
    if _owner_url
    else {key: value for key, value in DATABASES["default"].items() if key != "OPTIONS"}
)
DATABASES["owner"]["OPTIONS"] = {"connect_timeout": DATABASE_CONNECT_TIMEOUT}
# Tests: the owner creates and migrates the test database, the tests connect as the
# application (tests/conftest.py); with one role, the alias mirrors `default`.
DATABASES["owner"]["TEST"] = dict(DATABASES["default"]["TEST"])
if DATABASES["owner"]["USER"] == DATABASES["default"]["USER"]:
    DATABASES["owner"]["TEST"]["MIRROR"] = "default"
# Data migrations write through the alias `migrate` runs on (audit/routers.py).
DATABASE_ROUTERS = ["audit.routers.MigrationRouter"]
# Audit entries are kept this many days; `manage.py purge_audit` removes older ones.
# MLPS level 3 asks for six months: fewer than 183 is refused (audit.E001).
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 183)
PATROL_RETENTION_DAYS = env_int("PATROL_RETENTION_DAYS", 30)  # patrol tracks (PIPL)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
FIXTURE_DIRS = [BASE_DIR / "fixtures"]

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

# --- Live map (map_ui/live, docs/websocket.md) ------------------------------------------
# The channel layer carries case events from the process that committed them to the
# processes holding the map clients. CHANNEL_LAYER picks the channels_redis variant:
# "core" (lists in Redis, one receive loop per process) or "pubsub" (Redis PUBLISH, one
# subscription per group and process). The default is the one that was faster in
# bench/fanout_bench.py (docs/performance.md).
_CHANNEL_BACKENDS = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}
CHANNEL_LAYER = env_str("CHANNEL_LAYER", "pubsub")
if CHANNEL_LAYER not in _CHANNEL_BACKENDS:
    raise ValueError(f"CHANNEL_LAYER must be core or pubsub, got {CHANNEL_LAYER!r}")
# redis-py 8 gives up reading after 5 s by default, which is just how long core's
# receive waits on an idle Redis (BZPOPMIN 5): every quiet map client would be dropped.
# 15 s still notices a Redis that stopped answering.
CHANNEL_REDIS_HOST = {"address": REDIS_URL, "socket_timeout": 15}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": _CHANNEL_BACKENDS[CHANNEL_LAYER],
        # The prefix separates deployments (or test runs) sharing one Redis.
        "CONFIG": {
            "hosts": [CHANNEL_REDIS_HOST],
            "prefix": env_str("CHANNEL_LAYER_PREFIX", f"asgi{_suite}"),
        },
    }
}
# Seconds a token from GET /map/live/token/ opens a WebSocket (for pages without the
# session cookie); it only opens the connection, which then lives on.
LIVE_TOKEN_MAX_AGE = env_int("LIVE_TOKEN_MAX_AGE", 300)
# A client resuming after a gap gets what it missed from the outbox, unless that is more
# than this many events it may see, or the first event it missed is older than this many
# seconds: it is told to reload the map instead.
LIVE_REPLAY_MAX_EVENTS = env_int("LIVE_REPLAY_MAX_EVENTS", 1000)
LIVE_REPLAY_MAX_AGE = env_int("LIVE_REPLAY_MAX_AGE", 24 * 3600)
# Live events are held this many seconds after connecting, waiting for the client's
# "resume", so that replayed and live events arrive in sequence order.
LIVE_RESUME_WAIT = env_float("LIVE_RESUME_WAIT", 2.0)
# Every this many seconds a connection reads the outbox for events it may have missed
# while the channel layer was unreachable (0: never). Deliveries are deduplicated.
LIVE_CATCHUP_SECONDS = env_float("LIVE_CATCHUP_SECONDS", 60.0)
# Every this many seconds each server process pings the channel layer's Redis and reads
# the access of all its sockets with one statement: a Redis outage is told to clients,
# a sign-out, deactivation or change of post closes sockets within this (map_ui.live.hub).
LIVE_RECHECK_SECONDS = env_float("LIVE_RECHECK_SECONDS", 2.0)
# --- end of live map ----------------------------------------------------------------------

# --- Sign-in, sessions and HTTPS (accounts/, docs/deployment.md) ---------------------------
# Django's four standard rules for a new password (the admin's forms, password change).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# A session lasts a working day from sign-in (9 h: 09:00-18:00), then staff sign in again.
SESSION_COOKIE_AGE = env_int("SESSION_MAX_AGE", 9 * 3600)

# Lockout (django-axes, accounts/lockout.py): a user after LOGIN_FAILURE_LIMIT failed
# sign-ins, an address after LOGIN_ADDRESS_FAILURE_LIMIT (higher: an office signs in from
# behind one address), for LOGIN_COOLOFF_MINUTES after the last failure.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 30)
AXES_COOLOFF_TIME = env_int("LOGIN_COOLOFF_MINUTES", 15) / 60  # hours, as axes reads it
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # in this order (accounts/lockout.py)
AXES_HANDLER = "accounts.lockout.UserOrAddressHandler"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# A success does not clear the failures: it would clear those of the address too, so one
# account of one's own would reset the count against everyone else's.
AXES_RESET_ON_SUCCESS = False
# Attempts while locked out are refused and logged, but do not start the cool-off again:
# a user who retries is not kept out longer for it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # every failure, kept (admin: Axes)
# The log names who tried from where (axes hides both by default); passwords never.
AXES_SENSITIVE_PARAMETERS: list[str] = []
# Reverse proxies in front of the server (0: none). With one or more, the client's
# address is read from X-Forwarded-For (as many hops from the right) for the lockout and
# the throttles, and X-Forwarded-Proto says whether the request came over HTTPS; the
# proxy must set both headers, overwriting what a client sent.
PROXY_COUNT = env_int("DJANGO_PROXY_COUNT", 0)
if PROXY_COUNT:
    AXES_IPWARE_PROXY_COUNT = PROXY_COUNT
    AXES_IPWARE_PROXY_ORDER = "right-most"
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# HTTPS: DJANGO_SECURE=true switches on everything below; each can also be set alone.
SECURE = env_bool("DJANGO_SECURE", False)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", SECURE)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", SECURE)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 365 * 24 * 3600 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", SECURE)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", SECURE)

# Content-Security-Policy (django-csp, gridmgmt/security.py): CSP_MODE "enforce" (the
# default), "report-only" (violations reported in the browser's console, nothing
# blocked) or "off". Scripts, styles, images, fonts and connections from this server
# only (the live socket: at any of its names), inline scripts only with the response's
# nonce; images also from MAP_TILE_URL's server. Inline styles are allowed: folium
# writes its map's size in a <style>, and the admin uses style attributes.
CSP_MODE = env_str("CSP_MODE", "enforce")
if CSP_MODE not in {"enforce", "report-only", "off"}:
    raise ValueError(f"CSP_MODE must be enforce, report-only or off, got {CSP_MODE!r}")
_tiles = urlsplit(env_str("MAP_TILE_URL", ""))
_tile_origin = [f"{_tiles.scheme}://{_tiles.netloc}"] if _tiles.scheme and _tiles.netloc else []
# The live socket may be opened at another name of this server (with a token, where the
# session cookie does not go; docs/websocket.md): every name in ALLOWED_HOSTS.
_own_sockets = [
    f"{scheme}://{'*' + host if host.startswith('.') else host}:*"
    for host in ALLOWED_HOSTS
    if host != "*"
    for scheme in ("ws", "wss")
]
_csp = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:", *_tile_origin],
        "connect-src": [SELF, *_own_sockets],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
CONTENT_SECURITY_POLICY = _csp if CSP_MODE == "enforce" else None
CONTENT_SECURITY_POLICY_REPORT_ONLY = _csp if CSP_MODE == "report-only" else None
# Staff-only pages with inline scripts that cannot carry the nonce (gridmgmt/security.py).
CSP_INLINE_SCRIPT_PATHS = ["/admin/", "/api/docs/"]

# Django's cache: Redis, for the request rate limits (accounts/throttling.py). The
# prefix separates deployments (or test runs) sharing one Redis.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", f"gridmgmt{_suite}"),
        # A Redis that does not answer costs a request at most this long (the limits
        # then let it through).
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}
# --- end of sign-in, sessions and HTTPS -----------------------------------------------------

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = BASE_DIR / "var" / "media"

# Geometry is stored in one SRID, declared here once: WGS 84 longitude/latitude.
# Every coordinate that arrives in another datum (GCJ-02, BD-09, CGCS2000) is
# converted at the edge by layers.datum.
GRID_SRID = 4326
# Geometry text from outside (the admin's map widgets: WKT, EWKT, GeoJSON) is refused
# above this many characters or positions, before any of it is parsed (layers/geoinput.py).
GEOMETRY_INPUT_MAX_CHARS = env_int("GEOMETRY_INPUT_MAX_CHARS", 200_000)
GEOMETRY_INPUT_MAX_VERTICES = env_int("GEOMETRY_INPUT_MAX_VERTICES", 10_000)

# Base map tiles for the admin's map widget, an XYZ template such as
# "https://tiles.example.gov.cn/{z}/{x}/{y}.png" on the city's own tile server. Empty
# (the default): the widget draws vectors on a plain background and fetches nothing.
MAP_TILE_URL = env_str("MAP_TILE_URL", "")
# The credit line the tile server asks for, shown in the corner of every map.
MAP_TILE_ATTRIBUTION = env_str("MAP_TILE_ATTRIBUTION", "")
# The datum the base map's tiles are drawn in: wgs84 (or cgcs2000), gcj02 (AMap, Tencent)
# or bd09 (Baidu). Data stays WGS 84; the maps move overlays, clicks, drags, GPS positions
# and vector tiles so that a point lands where the tiles show it (map_ui/static/map_ui/
# datum.js, map_ui/tiles/sql.py).
MAP_TILE_DATUM = env_str("MAP_TILE_DATUM", "wgs84").strip().lower()
if MAP_TILE_DATUM not in ("wgs84", "gcj02", "bd09", "cgcs2000"):
    raise ValueError(f"MAP_TILE_DATUM: wgs84, gcj02, bd09 or cgcs2000, not {MAP_TILE_DATUM!r}")

# The case loop (incidents/, dispatch/).
# Photos attached to a report or a feedback: at most this many, each at most this big,
# JPEG, PNG or WebP (checked from the file's first bytes, not from its name).
CASE_PHOTO_MAX_COUNT = env_int("CASE_PHOTO_MAX_COUNT", 6)
CASE_PHOTO_MAX_BYTES = env_int("CASE_PHOTO_MAX_BYTES", 8 * 1024 * 1024)
# An inspector reports from their own cells; a point this far outside them is refused.
INSPECTOR_CELL_TOLERANCE_M = env_int("INSPECTOR_CELL_TOLERANCE_M", 100)
# A report of a component class goes to the maintaining unit of the nearest component of
# that class within this many metres of its point (dispatch.routing).
ROUTING_COMPONENT_DISTANCE_M = env_int("ROUTING_COMPONENT_DISTANCE_M", 30)
# A hotline address candidate scored below this (0-1) is marked uncertain (不确定) and must
# be confirmed before a ticket is filed on it (docs/api.md, "Intake look-ups").
HOTLINE_UNCERTAIN_SCORE = env_float("HOTLINE_UNCERTAIN_SCORE", 0.6)
# Rows of one case export (CSV/XLSX); a larger list is refused with export_too_large.
CASE_EXPORT_MAX_ROWS = env_int("CASE_EXPORT_MAX_ROWS", 10_000)
# Share of the time limit after which an open case is flagged as close to its deadline.
SLA_WARNING_SHARE = env_float("SLA_WARNING_SHARE", 0.8)
# A case whose deadline step fails in the SLA worker is set aside this many seconds; the
# others carry on (dispatch/sla.py).
SLA_FAILED_CASE_RETRY = env_int("SLA_FAILED_CASE_RETRY", 600)
# /health/ calls the SLA worker stalled (503) when its last finished pass is older than
# this many seconds (it passes every 10 s).
SLA_WORKER_STALE_AFTER = env_int("SLA_WORKER_STALE_AFTER", 60)
# /health/, the working calendar's admin and the SLA worker's log warn when fewer days than
# this of holiday data lie ahead (dispatch/holidays.py: import each year's holidays).
CALENDAR_MIN_DAYS_AHEAD = env_int("CALENDAR_MIN_DAYS_AHEAD", 60)
# Open311 without an API key (docs/open311.md): only cases of these sources are listed
# (inspector reports and Open311's own requests; 12345 tickets never by default), their
# points rounded to this many decimals (3 ≈ 100 m). A key reads its scope, full precision.
OPEN311_PUBLIC_SOURCES = env_list("OPEN311_PUBLIC_SOURCES", ["inspector", "open311"])
OPEN311_PUBLIC_DECIMALS = env_int("OPEN311_PUBLIC_DECIMALS", 3)
# Notifications (docs/notifications.md): e-mail through Django's mail backend, SMS through
# a transport class; a failed message is retried after NOTIFY_RETRY_BASE seconds, doubling
# up to NOTIFY_RETRY_MAX, and given up after NOTIFY_MAX_ATTEMPTS attempts.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "gridmgmt@localhost")
NOTIFY_SMS_TRANSPORT = env_str("NOTIFY_SMS_TRANSPORT", "notifications.transports.FileSms")
NOTIFY_SMS_FILE = env_str("NOTIFY_SMS_FILE", str(BASE_DIR / "var" / "sms.jsonl"))
NOTIFY_RETRY_BASE = env_int("NOTIFY_RETRY_BASE", 30)
NOTIFY_RETRY_MAX = env_int("NOTIFY_RETRY_MAX", 3600)
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 8)
# Outbound webhooks (docs/exchange.md): seconds to wait for a receiver, attempts.
WEBHOOK_TIMEOUT = env_float("WEBHOOK_TIMEOUT", 10.0)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)
# Office hours on a working day (local time), for limits counted in working hours.
WORKING_HOURS = [("09:00", "12:00"), ("14:00", "18:00")]

REST_FRAMEWORK = {
    # Browsers by their session; machine clients by an API token (accounts/), never by a
    # password: HTTP Basic hashed the password on every request (~0.4 s).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "accounts.authentication.ApiTokenAuthentication",
    ],
    # Requests per user (signed in) or per address (not), and per Open311 API key or
    # address on /open311/: over the rate, 429 with Retry-After (accounts/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": [
        "accounts.throttling.UserThrottle",
        "accounts.throttling.AnonThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_str("API_THROTTLE_USER", "1200/min"),
        "anon": env_str("API_THROTTLE_ANON", "120/min"),
        "open311_key": env_str("OPEN311_THROTTLE_KEY", "300/min"),
        "open311_anon": env_str("OPEN311_THROTTLE_ANON", "60/min"),
    },
    # Proxies in front (DJANGO_PROXY_COUNT): the address is read from X-Forwarded-For.
    "NUM_PROXIES": PROXY_COUNT,
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every list is paged with a cap (100 by default, at most 1000) and strict parameters.
    "DEFAULT_PAGINATION_CLASS": "layers.api.pagination.CappedLimitOffsetPagination",
    "PAGE_SIZE": 100,
    # Domain errors of the case loop as {"detail", "code", "field"} with 400/403/404/409.
    "EXCEPTION_HANDLER": "gridmgmt.api_errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "gridmgmt API",
    "DESCRIPTION": "City grid management: the one map, base layers and the case loop.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI is served from the static files of drf-spectacular-sidecar (a PyPI
    # package): city intranets have no internet, so no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Swagger UI would fetch a validity badge from an external validator.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # One name for choice sets used by several fields (time limit and urgent time limit).
    "ENUM_NAME_OVERRIDES": {
        "LimitUnitEnum": "layers.models.LimitUnit",
        "ChannelEnum": "incidents.models.Channel",
        # A case's state, and the expected_state every case action takes.
        "StateEnum": "incidents.models.State",
        # Hotline tickets take every channel but the inspectors' app.
        "TicketChannelEnum": [
            ("phone", "电话"),
            ("sms", "短信"),
            ("wechat", "微信"),
            ("weibo", "微博"),
            ("web", "网站"),
        ],
        # What drf-spectacular's GeoJSON extension adds here when it first runs; said here
        # because the overrides are cached at the first schema built: one built before
        # any GeoJSON serializer (of one app's URLs) left them out of every later one.
        "GisFeatureEnum": ["Feature"],
        "GisFeatureCollectionEnum": ["FeatureCollection"],
    },
    # Every operation's 4xx in the API's error shape, declared once (gridmgmt/schema.py);
    # after drf-spectacular's own hook, which names the enums.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "gridmgmt.schema.declare_errors",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"client_errors": {"()": "gridmgmt.log.ClientErrorsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"filters": ["client_errors"]}},
}

# Debian 12 ships GDAL 3.6, which cannot block file/network access from spatial reference
# strings. gridmgmt never hands user-supplied SRS text to GDAL: imports take a named datum
# (layers.datum) and convert coordinates in NumPy before any geometry is built.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

# Vector tiles of the live map (map_ui/tiles, docs/tiles.md): how long a browser keeps a
# tile before asking again. Tile URLs carry the layer's version token, so a change of
# the data is fetched at once whatever this says; it bounds how long a tile drawn under
# a user's old post can outlive a change of their post.
MAP_VECTOR_TILE_MAX_AGE = env_int("MAP_VECTOR_TILE_MAX_AGE", 300)
