"""notification-service settings: everything from the environment, read here only.

Defaults make ``./manage-all.sh up`` work with zero setup. With
``DJANGO_ENV=production`` every secret and URL must be given explicitly.
"""

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from servicekit import defaults
from servicekit.celery_defaults import *  # noqa: F403 - the suite's Celery settings
from servicekit.celery_defaults import broker_transport_options
from servicekit.env import Env
from servicekit.logging import logging_config

from config import __version__

SERVICE_NAME = "notification-service"
BASE_DIR = Path(__file__).resolve().parent.parent

env = Env()
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR.parent / "var")))

DEBUG = env.flag("DJANGO_DEBUG", default=False)
SECRET_KEY = env.required(
    "DJANGO_SECRET_KEY", dev_default="dev-only-notification-service-secret-key"
)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["*"])

DATABASES = {
    "default": env.database(dev_default=f"sqlite:///{VAR_DIR / 'db' / 'notification.sqlite3'}"),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
REDIS_URL = env.redis_url(dev_default="redis://127.0.0.1:6379/0")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "notifications",
]
MIDDLEWARE = defaults.MIDDLEWARE
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
TEMPLATES = defaults.TEMPLATES
AUTH_PASSWORD_VALIDATORS = defaults.AUTH_PASSWORD_VALIDATORS
APPEND_SLASH = False
# The services share a host in development (127.0.0.1, other ports) and cookies
# ignore ports: names of their own keep one admin's login from ending another's.
SESSION_COOKIE_NAME = "notification_sessionid"
CSRF_COOKIE_NAME = "notification_csrftoken"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The Docker image collects static files into STATIC_ROOT; in development
# whitenoise serves the admin's files straight from the installed apps.
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None
WHITENOISE_USE_FINDERS = STATIC_ROOT is None

# Authentication (user-service's RS256 bearer tokens, no user table here) is set
# on the API views themselves (notifications/apis.py).
REST_FRAMEWORK = {
    **defaults.REST_FRAMEWORK,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    **defaults.SPECTACULAR_SETTINGS,
    "TITLE": "notification-service",
    "DESCRIPTION": "The caller's notifications and email preferences.",
    "VERSION": __version__,
}

# --- Other services -------------------------------------------------------------

USER_SERVICE_URLS = env.http_urls("USER_SERVICE_URL", dev_default="http://127.0.0.1:8082")
JWKS_URL = env.str("JWKS_URL", default="") or f"{USER_SERVICE_URLS[0]}/.well-known/jwks.json"
# This service's client credentials for user-service's POST /auth/token (the dev
# default matches user-service's dev SERVICE_CLIENTS).
SERVICE_CLIENT_ID = env.str("SERVICE_CLIENT_ID", default="notification-service")
SERVICE_CLIENT_SECRET = env.required(
    "SERVICE_CLIENT_SECRET", dev_default="dev-notification-service-secret"
)
# A cached service token is replaced this many seconds before it expires
# (notifications/integrations/service_tokens.py).
SERVICE_TOKEN_REFRESH_MARGIN = 30
USER_SERVICE_CONNECT_TIMEOUT = env.positive_number("USER_SERVICE_CONNECT_TIMEOUT", default=1.0)
USER_SERVICE_READ_TIMEOUT = env.positive_number("USER_SERVICE_READ_TIMEOUT", default=3.0)
USER_SERVICE_BREAKER_FAIL_MAX = env.positive_number(
    "USER_SERVICE_BREAKER_FAIL_MAX", default=5, integer=True
)
USER_SERVICE_BREAKER_RESET_SECONDS = env.positive_number(
    "USER_SERVICE_BREAKER_RESET_SECONDS", default=30.0
)
# A user's address is read once a minute at most; an email change shows up after that.
USER_CONTACT_CACHE_SECONDS = env.positive_number(
    "USER_CONTACT_CACHE_SECONDS", default=60, integer=True
)
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Email ----------------------------------------------------------------------

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env.str("SMTP_HOST", default="127.0.0.1")
EMAIL_PORT = env.positive_number("SMTP_PORT", default=25, integer=True)
EMAIL_HOST_USER = env.str("SMTP_USER", default="")
EMAIL_HOST_PASSWORD = env.str("SMTP_PASSWORD", default="")
EMAIL_USE_TLS = env.flag("SMTP_USE_TLS", default=False)
EMAIL_USE_SSL = env.flag("SMTP_USE_SSL", default=False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("SMTP_USE_SSL: cannot be combined with SMTP_USE_TLS; choose one")
# Seconds per SMTP socket operation: a hung mail server must not hold a worker for long.
EMAIL_TIMEOUT = env.positive_number("EMAIL_TIMEOUT", default=5.0)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Todo <notifications@todo.localhost>")
# The local SMTP sink's Maildir, shown in the admin at /admin/mailbox/ (development only).
DEV_MAILBOX_DIR = env.str("DEV_MAILBOX_DIR", default="")

# --- Celery (the worker: celery -A config worker -Q notification.events) --------

NOTIFICATION_QUEUE = "notification.events"
# How long the notification pipeline may take to catch up after an outage is set here:
# a killed worker's message comes back after CELERY_VISIBILITY_TIMEOUT (plus at most
# CELERY_UNACKED_RESTORE_INTERVAL), and a mail server that is back is tried again within
# NOTIFICATION_RETRY_BACKOFF_MAX; with the defaults the suite settles within a minute of
# its last fault. 30 retries, each after a jittered wait of up to 15 s, ride out a mail
# server that is gone for about three minutes before a notification is marked failed.
#
# Failed deliveries retry with exponential backoff and full jitter, at most this often ...
NOTIFICATION_MAX_RETRIES = env.positive_number("NOTIFICATION_MAX_RETRIES", default=30, integer=True)
# ... waiting at most this long between two attempts.
NOTIFICATION_RETRY_BACKOFF_MAX = env.positive_number(
    "NOTIFICATION_RETRY_BACKOFF_MAX", default=15, integer=True
)
CELERY_TASK_SOFT_TIME_LIMIT = env.positive_number("CELERY_TASK_SOFT_TIME_LIMIT", default=20.0)
CELERY_TASK_TIME_LIMIT = env.positive_number("CELERY_TASK_TIME_LIMIT", default=25.0)
# A worker that claimed a notification ("sending") and died keeps it for this long;
# after that a redelivery may claim it again. Longer than any live attempt can take.
NOTIFICATION_CLAIM_LEASE_SECONDS = env.positive_number(
    "NOTIFICATION_CLAIM_LEASE_SECONDS", default=30.0
)
# Redis redelivers a message nobody acknowledged after this long (a killed worker's
# task). Retry countdowns are held by the worker as unacknowledged messages, so the
# backoff ceiling must stay below it, or Redis would hand the retry out twice.
CELERY_VISIBILITY_TIMEOUT = env.positive_number(
    "CELERY_VISIBILITY_TIMEOUT", default=45, integer=True
)
# How often a worker looks for such abandoned messages (kombu's default is ~100 s).
CELERY_UNACKED_RESTORE_INTERVAL = env.positive_number(
    "CELERY_UNACKED_RESTORE_INTERVAL", default=5, integer=True
)
if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CELERY_TASK_SOFT_TIME_LIMIT: must be below CELERY_TASK_TIME_LIMIT "
        f"({CELERY_TASK_TIME_LIMIT})"
    )
if NOTIFICATION_CLAIM_LEASE_SECONDS <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "NOTIFICATION_CLAIM_LEASE_SECONDS: must be longer than CELERY_TASK_TIME_LIMIT "
        f"({CELERY_TASK_TIME_LIMIT}), or a live worker's claim could be taken over"
    )
if NOTIFICATION_RETRY_BACKOFF_MAX + CELERY_TASK_TIME_LIMIT >= CELERY_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT: must be longer than NOTIFICATION_RETRY_BACKOFF_MAX "
        "plus CELERY_TASK_TIME_LIMIT, or Redis redelivers messages a worker still holds"
    )

CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(
    visibility_timeout=CELERY_VISIBILITY_TIMEOUT,
    unacked_restore_interval=CELERY_UNACKED_RESTORE_INTERVAL,
)
CELERY_TASK_DEFAULT_QUEUE = NOTIFICATION_QUEUE
CELERY_TASK_ROUTES = {"notification.*": {"queue": NOTIFICATION_QUEUE}}
# The rest (acks_late, reject_on_worker_lost, prefetch 1, JSON only, events for
# Flower) is servicekit.celery_defaults: at-least-once delivery, made
# effectively-once by the notification's unique event id and the atomic claim
# (notifications/services).

SERVICEKIT = {
    "SERVICE_NAME": SERVICE_NAME,
    "SERVICE_VERSION": __version__,
    # Where a browsable API page on this port sends people to log in (servicekit.browsable).
    "GATEWAY_URL": env.http_url("GATEWAY_URL", default="http://127.0.0.1:8080"),
    "REDIS_URL": REDIS_URL,
    "JWKS_URL": JWKS_URL,
    # Calls to user-service (servicekit.http; notifications/integrations/users.py).
    "HTTP_CONNECT_TIMEOUT": USER_SERVICE_CONNECT_TIMEOUT,
    "HTTP_READ_TIMEOUT": USER_SERVICE_READ_TIMEOUT,
    "HTTP_BREAKER_FAIL_MAX": USER_SERVICE_BREAKER_FAIL_MAX,
    "HTTP_BREAKER_RESET_SECONDS": USER_SERVICE_BREAKER_RESET_SECONDS,
    # /metrics and its multiprocess directory (servicekit.metrics; docs/observability.md).
    **env.metrics(service=SERVICE_NAME, var_dir=VAR_DIR),
}
LOGGING = logging_config(service=SERVICE_NAME, level=env.str("LOG_LEVEL", default="INFO"))
