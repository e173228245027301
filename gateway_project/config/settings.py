"""api-gateway settings: everything from the environment, read here only.

The gateway is thin on purpose: no database, no sessions, no admin. It keeps
its state (rate-limit counters, revoked token ids) in Redis.
"""

from pathlib import Path

from servicekit import defaults
from servicekit.env import Env
from servicekit.logging import logging_config

from config import __version__

SERVICE_NAME = "api-gateway"
BASE_DIR = Path(__file__).resolve().parent.parent

env = Env()
# Where the metrics directory lives by default (see SERVICEKIT below).
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR.parent / "var")))

DEBUG = env.flag("DJANGO_DEBUG", default=False)
SECRET_KEY = env.required("DJANGO_SECRET_KEY", dev_default="dev-only-api-gateway-secret-key")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["*"])

DATABASES: dict[str, dict[str, object]] = {}
REDIS_URL = env.redis_url(dev_default="redis://127.0.0.1:6379/0")

# Where each route prefix goes; several comma-separated URLs are several instances.
UPSTREAMS = {
    "todo-service": env.http_urls("TODO_SERVICE_URL", dev_default="http://127.0.0.1:8081"),
    "user-service": env.http_urls("USER_SERVICE_URL", dev_default="http://127.0.0.1:8082"),
    "notification-service": env.http_urls(
        "NOTIFICATION_SERVICE_URL", dev_default="http://127.0.0.1:8083"
    ),
}
# Path prefix -> service (a prefix matches whole segments: /todos, /todos/, /todos/7).
GATEWAY_ROUTES = {
    "/auth": "user-service",
    "/users": "user-service",
    "/.well-known/jwks.json": "user-service",
    "/todos": "todo-service",
    "/notifications": "notification-service",
}
# Paths (regular expressions, trailing slash stripped) that need no token.
GATEWAY_PUBLIC_PATHS = [
    r"/auth/(register|login|refresh)",
    r"/\.well-known/jwks\.json",
    r"/users/deletions/[^/]+",
]
GATEWAY_LOGIN_PATH = "/auth/login"

# Rate limits as (requests, seconds).
GATEWAY_RATE_LIMIT = env.rate("GATEWAY_RATE_LIMIT", default="600/min")
GATEWAY_ANON_RATE_LIMIT = env.rate("GATEWAY_ANON_RATE_LIMIT", default="60/min")
GATEWAY_LOGIN_RATE_LIMIT = env.rate("GATEWAY_LOGIN_RATE_LIMIT", default="10/min")

GATEWAY_CONNECT_TIMEOUT = env.positive_number("GATEWAY_CONNECT_TIMEOUT", default=1.0)
GATEWAY_UPSTREAM_TIMEOUT = env.positive_number("GATEWAY_UPSTREAM_TIMEOUT", default=5.0)
GATEWAY_BREAKER_FAIL_MAX = env.positive_number("GATEWAY_BREAKER_FAIL_MAX", default=5, integer=True)
GATEWAY_BREAKER_RESET_SECONDS = env.positive_number("GATEWAY_BREAKER_RESET_SECONDS", default=30.0)
# An instance that refuses a connection gets no traffic for this long (passive ejection).
GATEWAY_EJECT_SECONDS = env.positive_number("GATEWAY_EJECT_SECONDS", default=10.0)
# How often hostnames are resolved again (a scaled service gains or loses addresses).
GATEWAY_DNS_REFRESH_SECONDS = env.positive_number("GATEWAY_DNS_REFRESH_SECONDS", default=10.0)
GATEWAY_MAX_BODY_BYTES = env.positive_number(
    "GATEWAY_MAX_BODY_BYTES", default=1024 * 1024, integer=True
)
# Where each service serves its OpenAPI schema (relayed at /schemas/<service> for /docs).
GATEWAY_SCHEMA_PATH = "/schema"
# Public keys for token checks: user-service's JWKS unless told otherwise.
JWKS_URL = env.str("JWKS_URL", default=f"{UPSTREAMS['user-service'][0]}/.well-known/jwks.json")

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular_sidecar",  # Swagger UI's files for /docs, served here, no CDN
    "gateway",
]
# The hot path stays lean: no sessions, CSRF or messages. whitenoise answers
# only /static/ (Swagger UI's and the browsable API's files) and passes everything
# else straight on. Django's CSRF check runs only where a cookie authenticates
# (gateway.browser), not as a middleware.
MIDDLEWARE = [
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "servicekit.middleware.RequestIdMiddleware",
    "servicekit.middleware.AccessLogMiddleware",
    "servicekit.middleware.BodySizeLimitMiddleware",
]
ROOT_URLCONF = "config.urls"
# Only /docs and the login page render templates; they need no context processors.
TEMPLATES = [
    {"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True},
]
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = False
STATIC_URL = "static/"
# The Docker image collects the files into STATIC_ROOT; in development whitenoise
# serves them straight from the installed app.
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None
WHITENOISE_USE_FINDERS = STATIC_ROOT is None

# Browser sessions (gateway.browser; docs/decisions/0009): the CSRF cookie is named like
# the services' own (todo_csrftoken, ...): cookies ignore ports, and the suite shares a host.
CSRF_COOKIE_NAME = "gateway_csrftoken"
CSRF_FAILURE_VIEW = "gateway.browser.csrf_failure"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

REST_FRAMEWORK = {
    **defaults.REST_FRAMEWORK,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}

SERVICEKIT = {
    "SERVICE_NAME": SERVICE_NAME,
    "SERVICE_VERSION": __version__,
    "REDIS_URL": REDIS_URL,
    "MAX_BODY_BYTES": GATEWAY_MAX_BODY_BYTES,
    "JWKS_URL": JWKS_URL,
    "READINESS_CHECKS": [
        "servicekit.health.check_redis",
        "gateway.health.check_upstreams",
    ],
    # /metrics and its multiprocess directory (servicekit.metrics; docs/observability.md).
    **env.metrics(service=SERVICE_NAME, var_dir=VAR_DIR),
}
LOGGING = logging_config(service=SERVICE_NAME, level=env.str("LOG_LEVEL", default="INFO"))
