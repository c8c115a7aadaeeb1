"""Settings for liveblog, read from the environment (see .env.example).

With nothing set, the app runs on the embedded default: SQLite and the in-memory
channel layer, in debug mode, for one process on one machine.
"""

import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from liveblog import error_reporting
from liveblog.backends import caches, channel_layers, redis_sentinel
from liveblog.env import env_bool, env_int, env_list, env_networks, env_str
from liveblog.log_formats import LOG_FORMATS
from updates.embeds import PROVIDERS as EMBEDDABLE

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=True)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-for-debug-mode"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", default=[])

# In production the site is served over HTTPS by a proxy in front of Daphne (it sets
# X-Forwarded-Proto): cookies only over HTTPS, HSTS, and plain HTTP redirected.
# HTTPS=false serves plain HTTP with DEBUG off, as the tests and benchmarks on
# 127.0.0.1 do.
HTTPS = env_bool("HTTPS", default=not DEBUG)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365 if HTTPS else 0)
# Domain-wide promises: turn them off if any subdomain of the site still serves plain HTTP.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=HTTPS)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
# /healthz, /readyz and /metrics answer probes and Prometheus's scrapes in plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]

# The other headers SecurityMiddleware and XFrameOptionsMiddleware send, set here on
# purpose (tests/test_security_headers.py holds them):
SECURE_CONTENT_TYPE_NOSNIFF = True
# Choice: no other site sees our addresses (the desk's event ids, the live page's
# cursors); links in entries also carry rel="noreferrer" (updates/sanitize.py).
SECURE_REFERRER_POLICY = "same-origin"
# Choice: no window of another site keeps a handle on ours; the admin's popups are
# same-origin, so they keep theirs.
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Nothing frames our pages: the desk's preview is an iframe whose document is srcdoc
# (static/desk.js), not a response of ours. Old browsers read this, new ones
# frame-ancestors below.
X_FRAME_OPTIONS = "DENY"

# The video and social posts journalists may embed (updates/embeds.py), by name; readers
# fetch nothing from them until they click.
EMBED_PROVIDERS = env_list("EMBED_PROVIDERS", default=list(EMBEDDABLE))
if unknown := set(EMBED_PROVIDERS) - set(EMBEDDABLE):
    raise ImproperlyConfigured(f"EMBED_PROVIDERS names no provider: {', '.join(sorted(unknown))}")

# The sites that may frame an event's live embed (/live/<slug>/embed/, the desk's snippet):
# origins such as https://www.example-news.com, or * for any site. Every other page
# refuses to be framed (frame-ancestors below, X_FRAME_OPTIONS above).
EMBED_ALLOWED_ORIGINS = env_list("EMBED_ALLOWED_ORIGINS", default=["*"])
if bad := [
    each for each in EMBED_ALLOWED_ORIGINS if not re.fullmatch(r"\*|https?://[^/\s;,]+", each)
]:
    raise ImproperlyConfigured(f"EMBED_ALLOWED_ORIGINS takes origins or *, not: {', '.join(bad)}")

# Content-Security-Policy on every response, static files included (the middleware sits
# before whitenoise). Templates mark their <script> and <link> tags with
# {% csp_nonce_attr %}, and widget media with {% csp_nonce_attr media %}.
# check --deploy does not notice a missing policy: tests/test_security_headers.py does.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    # The nonce: the admin's changelist writes one <style> with it. The hash: the
    # <style data-tiptap-style> the desk's rich-text editor (django-prose-editor's Tiptap)
    # adds to the page, with no way to hand it a nonce. Its text is a constant of
    # django_prose_editor/static/django_prose_editor/editor.js; a test recomputes the
    # hash from the installed file, so an upgrade that changes it fails there first.
    # No 'unsafe-inline': style="" attributes are refused, and no template writes one.
    "style-src": [CSP.SELF, CSP.NONCE, "'sha256-PlumsSlvJ7vvWzjqibGAYKq92O3y/4JTxWWsWJvyUYA='"],
    # Entry bodies may show images from anywhere over http(s) (updates/sanitize.py);
    # data: only for the pages' empty favicon (templates/base.html).
    "img-src": [CSP.SELF, "data:", "https:", "http:"],
    # The live page's websocket and the API: CSP3 'self' matches ws: and wss: on the
    # page's own host (tests/browser/test_content_security_policy.py proves it).
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    # The desk's preview (srcdoc), and the players of the embeds a reader chose to see.
    "frame-src": [
        CSP.SELF,
        *(EMBEDDABLE[name].player_origin for name in EMBED_PROVIDERS if EMBEDDABLE[name].player),
    ],
}

INSTALLED_APPS = [
    # daphne first: its runserver replaces Django's with an ASGI one.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Its templates, for the sitemap index (updates/sitemaps.py).
    "django.contrib.sitemaps",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_prose_editor",
    "updates",
]

MIDDLEWARE = [
    # First, so that it counts every answer, the others' refusals among them (updates/metrics.py).
    "updates.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before whitenoise, so that static files carry the policy too.
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # A view the database could not serve: a 503 that keeps what was posted, not a 500.
    "liveblog.database_down.DatabaseDownMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "liveblog.urls"
ASGI_APPLICATION = "liveblog.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # csp_nonce, read by {% csp_nonce_attr %}.
                "django.template.context_processors.csp",
            ],
        },
    },
]

# No persistent connections: under ASGI each request may run in a thread of its own,
# and a connection kept per thread ran PostgreSQL out of connections in bench/reads.py.
# PostgreSQL gets psycopg's pool instead.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"), conn_max_age=0
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    from psycopg_pool import ConnectionPool

    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": 2,
            "max_size": env_int("DATABASE_POOL_SIZE", 20),
            # How long a request waits for a connection: a process never runs more
            # requests at once than it has connections, so a wait means PostgreSQL is not
            # answering, and the desk should say so soon (liveblog/database_down.py).
            "timeout": 3,
            # Each connection is checked before it is handed out: after PostgreSQL restarts
            # or fails over, the dead ones are replaced, not given to a request that fails
            # (tests/faults/test_database_down.py).
            "check": ConnectionPool.check_connection,
            # While PostgreSQL is down the pool tries to connect again after 1, 2, 4, 8 s...:
            # after an outage of 30 s its next try could be 30 s after PostgreSQL is back.
            # Given up after 5 s, a try starts again with the next request that waits.
            "reconnect_timeout": 5,
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # Writers take the lock when their transaction starts, so two concurrent
        # publishes queue up instead of one failing with "database is locked".
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so that the Daphne processes of the end-to-end tests share it.
    # Named per process, so that two test runs side by side do not share one.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f"test-db-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Unset: the in-memory layer, for one process. Set: Redis, shared by every process.
REDIS_URL = env_str("REDIS_URL")
# Set both to find the primary through Sentinel ("host:port,host:port,..." and the name
# the Sentinels monitor it under), REDIS_URL then giving only the database and password:
# the channel layer, the cache (and so the rate limits) and /readyz follow a failover.
REDIS_SENTINEL = redis_sentinel(
    env_list("REDIS_SENTINELS", default=[]), env_str("REDIS_SENTINEL_MASTER"), REDIS_URL
)
CHANNEL_LAYERS = channel_layers(REDIS_URL, sentinel=REDIS_SENTINEL)
CACHES = caches(REDIS_URL, sentinel=REDIS_SENTINEL)

# How often a reader whose websocket cannot connect asks for changes instead.
LIVE_POLL_SECONDS = env_int("LIVE_POLL_SECONDS", 15)
# How often connected readers are told the revision (and each process renews its
# channel-layer subscriptions); docs/api.md promises every 20 to 30 seconds.
# At most 30: a page takes a socket silent for 2.5 heartbeats of at most 30 s for dead
# (static/live.js), so longer ones would have every page reconnect between two.
LIVE_HEARTBEAT_SECONDS = env_int("LIVE_HEARTBEAT_SECONDS", 25, within=range(1, 31))

# Rate limits per client address (updates/ratelimit.py), shared by every process through
# the cache; 0 turns one off (benchmarks from one address). One reader's page asks the API
# at most ~15 times a minute (polling every 15 s while its socket is down, catch-ups,
# quick "Load more" clicks) and opens at most ~7 sockets in a minute of outage (backoff
# from 1 s to 30 s). Readers behind one newsroom or mobile NAT share an address, so the
# defaults leave room for about 40 such readers at full tilt, or 150 polling, or 300 all
# reconnecting after a restart; a script looping on the API or the socket is stopped
# within seconds.
RATE_LIMIT_API_PER_MINUTE = env_int("RATE_LIMIT_API_PER_MINUTE", 600)
RATE_LIMIT_SOCKET_CONNECTS_PER_MINUTE = env_int("RATE_LIMIT_SOCKET_CONNECTS_PER_MINUTE", 300)
# The proxies in front of Daphne (IPs or CIDR networks) whose X-Forwarded-For is believed;
# anyone else's is ignored. Daphne's own --proxy-headers believes the left-most address,
# which the client writes: leave it off.
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES", default=[])

# /metrics (updates/metrics.py, docs/metrics.md): answered to the clients at these
# addresses or networks (the reader's own, through TRUSTED_PROXIES), and to any client that
# sends "Authorization: Bearer <METRICS_TOKEN>" when a token is set.
METRICS_ALLOWED_ADDRESSES = env_networks("METRICS_ALLOWED_ADDRESSES", default=["127.0.0.1", "::1"])
METRICS_TOKEN = env_str("METRICS_TOKEN")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The languages pages, their scripts and the desk are written in (locale/); the site's
# from the environment, and an event may have its own (Event.language: a newsroom
# covering a foreign election), which its pages are then in.
LANGUAGES = [("en-gb", "English"), ("de", "Deutsch")]
LANGUAGE_CODE = env_str("LANGUAGE_CODE", "en-gb")
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ImproperlyConfigured(
        f"LANGUAGE_CODE must be one of {', '.join(dict(LANGUAGES))}, not {LANGUAGE_CODE}"
    )
# Every string's translation in the app's own locale/, templates' and scripts' included:
# the scripts' catalog (views.script_strings) reads only an app's.
LOCALE_PATHS = [BASE_DIR / "updates" / "locale"]
# The publication's name, as feeds, Google News and share cards show it.
SITE_NAME = "Liveblog"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Pictures in entries (updates/pictures.py, docs/media.md). Their names are random and a
# stored file never changes, so whatever serves them may let browsers keep them a year.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "/media/"
# Set: an S3-compatible bucket instead of MEDIA_ROOT, for more than one machine.
MEDIA_S3_BUCKET = env_str("MEDIA_S3_BUCKET")
_media_s3 = {
    # Unset: AWS itself; set for any other S3-compatible service.
    "endpoint_url": env_str("MEDIA_S3_ENDPOINT_URL"),
    "region_name": env_str("MEDIA_S3_REGION"),
    # A CDN or the bucket's own public host name; unset: the endpoint's address.
    "custom_domain": env_str("MEDIA_S3_CUSTOM_DOMAIN"),
}
if MEDIA_S3_BUCKET:
    MEDIA_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": MEDIA_S3_BUCKET,
            **{option: value or None for option, value in _media_s3.items()},
            # Plain public addresses, the same for every reader (so cacheable), rather than
            # signed ones that expire inside a page kept open all day.
            "querystring_auth": False,
            "file_overwrite": False,
            "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
            # Credentials: boto3's own chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
            # or the machine's role), never settings.
        },
    }
elif any(_media_s3.values()):
    raise ImproperlyConfigured("MEDIA_S3_* is set but MEDIA_S3_BUCKET is not")
else:
    MEDIA_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": MEDIA_STORAGE,
    # Hashed names let browsers cache the live page's script for a year and still
    # pick up a new release at once.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGIN_URL = "admin:login"

# plain: lines for people. json: one JSON object a line for a log collector
# (liveblog/log_formats.py); gunicorn's own lines follow it too (deploy/gunicorn.conf.py).
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in LOG_FORMATS:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {LOG_FORMAT: LOG_FORMATS[LOG_FORMAT]},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        # Replaces Django's own console handler, which would print every line twice.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.channels.server": {"level": "WARNING"},
    },
}

# Errors to Sentry (liveblog/error_reporting.py) when set; SENTRY_ENVIRONMENT names the
# deployment in its reports (production, staging, ...).
SENTRY_DSN = env_str("SENTRY_DSN")
if SENTRY_DSN:
    error_reporting.start(SENTRY_DSN, environment=env_str("SENTRY_ENVIRONMENT", "production"))
