"""todo-service settings: everything from the environment, read here only.

Defaults make ``./manage-all.sh up`` work with zero setup. With
``DJANGO_ENV=production`` every secret and URL must be given explicitly.
"""

from pathlib import Path

from servicekit import defaults
from servicekit.env import Env
from servicekit.logging import logging_config

from config import __version__

SERVICE_NAME = "todo-service"
BASE_DIR = Path(__file__).resolve().parent.parent

env = Env()
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR.parent / "var")))

DEBUG = env.flag("DJANGO_DEBUG", default=False)
SECRET_KEY = env.required("DJANGO_SECRET_KEY", dev_default="dev-only-todo-service-secret-key")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["*"])

DATABASES = {
    "default": env.database(dev_default=f"sqlite:///{VAR_DIR / 'db' / 'todo.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite has no row locks: IMMEDIATE makes each transaction take the write
    # lock when it begins, so concurrent writers wait their turn (up to
    # `timeout` seconds) instead of failing with "database is locked" halfway.
    # The tests use a file, not Django's shared in-memory database, so that
    # threads in concurrency tests really wait for each other the same way.
    DATABASES["default"].setdefault("OPTIONS", {}).update(transaction_mode="IMMEDIATE", timeout=20)
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "db" / "test_todo.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
REDIS_URL = env.redis_url(dev_default="redis://127.0.0.1:6379/0")
# Access tokens are verified with user-service's public keys.
JWKS_URL = env.str("JWKS_URL", default="") or (
    env.http_urls("USER_SERVICE_URL", dev_default="http://127.0.0.1:8082")[0]
    + "/.well-known/jwks.json"
)

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
    "servicekit.outbox",
    "todos",
]
MIDDLEWARE = defaults.MIDDLEWARE
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
TEMPLATES = defaults.TEMPLATES
AUTH_PASSWORD_VALIDATORS = defaults.AUTH_PASSWORD_VALIDATORS
APPEND_SLASH = False
# The services share a host in development (127.0.0.1, other ports) and cookies
# ignore ports: names of their own keep one admin's login from ending another's.
SESSION_COOKIE_NAME = "todo_sessionid"
CSRF_COOKIE_NAME = "todo_csrftoken"
# Behind the gateway, links (pagination's next/previous) point at the gateway's
# host and scheme. Only safe because the gateway overwrites these headers.
USE_X_FORWARDED_HOST = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

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
    # Stateless: the caller is whoever the bearer token says (no user table here).
    "DEFAULT_AUTHENTICATION_CLASSES": ["servicekit.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["servicekit.authentication.IsEndUser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    **defaults.SPECTACULAR_SETTINGS,
    "TITLE": "todo-service",
    "DESCRIPTION": "Todos of the signed-in user (bearer token from user-service).",
    "VERSION": __version__,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
}

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
    "JWKS_URL": JWKS_URL,
    "READINESS_CHECKS": [
        "servicekit.health.check_databases",
        "servicekit.health.check_redis",
        "servicekit.outbox.health.check_outbox",
    ],
    "OUTBOX_HOUSEKEEPING": ["todos.idempotency.idempotency_keys_prune"],
    # /metrics and its multiprocess directory (servicekit.metrics; docs/observability.md).
    **env.metrics(service=SERVICE_NAME, var_dir=VAR_DIR),
}
LOGGING = logging_config(service=SERVICE_NAME, level=env.str("LOG_LEVEL", default="INFO"))
