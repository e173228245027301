"""user-service settings: everything from the environment, read here only.

Defaults make ``./manage-all.sh up`` work with zero setup. With
``DJANGO_ENV=production`` every secret and URL must be given explicitly.
"""

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from servicekit import defaults
from servicekit.celery_defaults import *  # noqa: F403 - the suite's Celery settings
from servicekit.celery_defaults import broker_transport_options
from servicekit.env import Env
from servicekit.logging import logging_config

from config import __version__

SERVICE_NAME = "user-service"
BASE_DIR = Path(__file__).resolve().parent.parent

env = Env()
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR.parent / "var")))

DEBUG = env.flag("DJANGO_DEBUG", default=False)
SECRET_KEY = env.required("DJANGO_SECRET_KEY", dev_default="dev-only-user-service-secret-key")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["*"])

DATABASES = {
    "default": env.database(dev_default=f"sqlite:///{VAR_DIR / 'db' / 'user.sqlite3'}"),
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
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "servicekit.outbox",
    "accounts",
    "sagas",
]
AUTH_USER_MODEL = "accounts.User"
MIDDLEWARE = defaults.MIDDLEWARE
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
TEMPLATES = defaults.TEMPLATES
AUTH_PASSWORD_VALIDATORS = defaults.AUTH_PASSWORD_VALIDATORS
# The strongest hasher Django has (argon2) first; the others still verify old hashes
# and upgrade them at the next login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
APPEND_SLASH = False
# The services share a host in development (127.0.0.1, other ports) and cookies
# ignore ports: names of their own keep one admin's login from ending another's.
SESSION_COOKIE_NAME = "user_sessionid"
CSRF_COOKIE_NAME = "user_csrftoken"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The Docker image collects static files into STATIC_ROOT; in development
# whitenoise serves the admin's files straight from the installed apps.
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None
WHITENOISE_USE_FINDERS = STATIC_ROOT is None

REST_FRAMEWORK = {
    **defaults.REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.UserTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    **defaults.SPECTACULAR_SETTINGS,
    "TITLE": "user-service",
    "DESCRIPTION": 'Accounts, RS256 tokens (JWKS), service tokens. See docs/spec/api.md, "Auth".',
    "VERSION": __version__,
}

# --- tokens -----------------------------------------------------------------------
JWT_ACCESS_LIFETIME_SECONDS = env.positive_number(
    "JWT_ACCESS_LIFETIME_SECONDS", default=300, integer=True
)
JWT_REFRESH_LIFETIME_SECONDS = env.positive_number(
    "JWT_REFRESH_LIFETIME_SECONDS", default=86400, integer=True
)
# simplejwt creates, refreshes and blacklists the tokens; accounts.tokens gives it a
# backend that signs with the key ring below (RS256, with a kid).
SIMPLE_JWT = {
    "ALGORITHM": "RS256",
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=JWT_ACCESS_LIFETIME_SECONDS),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=JWT_REFRESH_LIFETIME_SECONDS),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "USER_ID_CLAIM": "user_id",
}

# The signing key: PEM text, a PEM file, or a directory of keys that
# `manage.py rotate_signing_key` rotates (see accounts/keys.py).
JWT_SIGNING_KEY_PEM = env.str("JWT_PRIVATE_KEY", default="")
_key_file = env.str("JWT_PRIVATE_KEY_FILE", default="")
JWT_KEY_DIR = Path(env.str("JWT_KEY_DIR", default="") or VAR_DIR / "keys" / "user-service")
if not JWT_SIGNING_KEY_PEM and _key_file:
    try:
        JWT_SIGNING_KEY_PEM = Path(_key_file).read_text()
    except OSError as exc:
        raise ImproperlyConfigured(
            f"JWT_PRIVATE_KEY_FILE: cannot read {_key_file}: {exc.strerror}"
        ) from None
if JWT_SIGNING_KEY_PEM:
    from accounts.keys import parse_private_key

    try:
        parse_private_key(JWT_SIGNING_KEY_PEM.encode())
    except ValueError as exc:
        variable = "JWT_PRIVATE_KEY_FILE" if _key_file else "JWT_PRIVATE_KEY"
        raise ImproperlyConfigured(f"{variable}: {exc}") from None
elif env.production and not env.str("JWT_KEY_DIR", default=""):
    raise ImproperlyConfigured(
        "JWT_PRIVATE_KEY: must be set when DJANGO_ENV=production "
        "(or JWT_PRIVATE_KEY_FILE, or JWT_KEY_DIR for a directory of rotating keys)"
    )
elif env.production and not JWT_KEY_DIR.is_dir():
    raise ImproperlyConfigured(f"JWT_KEY_DIR: {JWT_KEY_DIR} is not a directory")

# --- service clients (OAuth2 client credentials) -----------------------------------
# Which scopes each client may ask for is code: other services decide what a
# scope lets a client do. The secrets come from the environment.
SERVICE_CLIENT_SCOPES: dict[str, list[str]] = {
    "todo-service": ["users:read"],
    "notification-service": ["users:read"],
    "user-service": ["users:read", "todos:erase", "notifications:erase"],
}
_clients = env.required(
    "SERVICE_CLIENTS",
    dev_default=",".join(f"{name}:dev-{name}-secret" for name in SERVICE_CLIENT_SCOPES),
)
SERVICE_CLIENTS: dict[str, dict[str, Any]] = {}
for _entry in filter(None, (item.strip() for item in _clients.split(","))):
    _client_id, _, _secret = _entry.partition(":")
    if _client_id not in SERVICE_CLIENT_SCOPES or not _secret:
        raise ImproperlyConfigured(
            f"SERVICE_CLIENTS: {_client_id!r} is not client_id:secret with a known client "
            f"({', '.join(SERVICE_CLIENT_SCOPES)})"
        )
    SERVICE_CLIENTS[_client_id] = {"secret": _secret, "scopes": SERVICE_CLIENT_SCOPES[_client_id]}
SERVICE_TOKEN_LIFETIME_SECONDS = env.positive_number(
    "SERVICE_TOKEN_LIFETIME_SECONDS", default=300, integer=True
)

# --- login throttling (a second line behind the gateway's limit) -------------------
USER_LOGIN_RATE_LIMIT = env.rate("USER_LOGIN_RATE_LIMIT", default="20/min")
TRUSTED_PROXIES = []
for _proxy in env.list("TRUSTED_PROXIES", default=["127.0.0.1", "::1"]):
    try:
        TRUSTED_PROXIES.append(ipaddress.ip_network(_proxy.strip(), strict=False))
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network"
        ) from None

# --- the account-deletion saga (sagas/, accounts/deletion.py) --------------------
# Participants are found by configuration (one or more URLs each, like the gateway's).
TODO_SERVICE_URLS = env.http_urls("TODO_SERVICE_URL", dev_default="http://127.0.0.1:8081")
NOTIFICATION_SERVICE_URLS = env.http_urls(
    "NOTIFICATION_SERVICE_URL", dev_default="http://127.0.0.1:8083"
)
SAGA_DEFINITIONS = {"account_deletion": "accounts.deletion.ACCOUNT_DELETION"}
# A participant failing for this long makes the saga give up and compensate.
SAGA_RETRY_BUDGET_SECONDS = env.positive_number("SAGA_RETRY_BUDGET_SECONDS", default=60.0)
# Longest wait between two attempts of a step.
SAGA_RETRY_BACKOFF_MAX = env.positive_number("SAGA_RETRY_BACKOFF_MAX", default=10.0)
# A worker's claim on a saga; a crashed worker's sagas resume after it expires.
SAGA_LEASE_SECONDS = env.positive_number("SAGA_LEASE_SECONDS", default=60.0)
# How often each saga worker looks for sagas that are due (retries, crashed workers).
SAGA_SWEEP_SECONDS = env.positive_number("SAGA_SWEEP_SECONDS", default=2.0)
SAGA_HTTP_CONNECT_TIMEOUT = env.positive_number("SAGA_HTTP_CONNECT_TIMEOUT", default=1.0)
SAGA_HTTP_READ_TIMEOUT = env.positive_number("SAGA_HTTP_READ_TIMEOUT", default=5.0)
# One step's longest call: every attempt (the shared client retries twice) timing out.
_longest_step = 3 * (SAGA_HTTP_CONNECT_TIMEOUT + SAGA_HTTP_READ_TIMEOUT) + 1
if _longest_step >= SAGA_LEASE_SECONDS:
    raise ImproperlyConfigured(
        f"SAGA_LEASE_SECONDS: must be longer than a step can take ({_longest_step:g} s with "
        "these SAGA_HTTP_*_TIMEOUT values), or a live worker's saga could be taken over"
    )

# --- Celery (the saga worker: celery -A config worker -Q user.saga) ----------------
SAGA_QUEUE = "user.saga"
CELERY_BROKER_URL = REDIS_URL
# A saga task runs its steps one after another; the lease bounds each step, this the run.
CELERY_TASK_SOFT_TIME_LIMIT = env.positive_number("CELERY_TASK_SOFT_TIME_LIMIT", default=240.0)
CELERY_TASK_TIME_LIMIT = env.positive_number("CELERY_TASK_TIME_LIMIT", default=300.0)
CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(
    visibility_timeout=env.positive_number("CELERY_VISIBILITY_TIMEOUT", default=600, integer=True),
)
CELERY_TASK_DEFAULT_QUEUE = SAGA_QUEUE
CELERY_TASK_ROUTES = {"sagas.*": {"queue": SAGA_QUEUE}}

SERVICEKIT = {
    "SERVICE_NAME": SERVICE_NAME,
    "SERVICE_VERSION": __version__,
    # Where a browsable API page on this port sends people to log in (servicekit.browsable).
    "GATEWAY_URL": env.http_url("GATEWAY_URL", default="http://127.0.0.1:8080"),
    "REDIS_URL": REDIS_URL,
    # Where the outbox relay publishes events: notification-service's consumer
    # task and its queue, by name (docs/spec/events.md, "Transport").
    "OUTBOX_TASK_NAME": "notification.handle_event",
    "OUTBOX_QUEUE": "notification.events",
    # Events the consumer has not confirmed after this long are published again,
    # and sooner those it never received (servicekit.events.receipts).
    "OUTBOX_REDELIVER_AFTER_SECONDS": env.positive_number(
        "OUTBOX_REDELIVER_AFTER_SECONDS", default=300.0
    ),
    "OUTBOX_REDELIVER_LOST_AFTER_SECONDS": env.positive_number(
        "OUTBOX_REDELIVER_LOST_AFTER_SECONDS", default=20.0
    ),
    # user-service verifies its own tokens with the same verifier as everyone,
    # reading its key ring directly instead of over HTTP from itself. Reading it
    # is cheap, so an unknown kid (a key just rotated in) may be looked up at once.
    "JWKS_PROVIDER": "accounts.keys.jwks",
    "JWKS_CACHE_SECONDS": 30,
    "JWKS_REFETCH_INTERVAL": 0,
    "READINESS_CHECKS": [
        "servicekit.health.check_databases",
        "servicekit.health.check_redis",
        "accounts.keys.check_signing_key",
        "servicekit.outbox.health.check_outbox",
    ],
    # /metrics and its multiprocess directory (servicekit.metrics; docs/observability.md).
    **env.metrics(service=SERVICE_NAME, var_dir=VAR_DIR),
}
LOGGING = logging_config(service=SERVICE_NAME, level=env.str("LOG_LEVEL", default="INFO"))
