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
GATEWAY_CONNECT_TIMEOUT = env.positive_number("GATEWAY_CONNECT_TIMEOUT", default=1.0)
GATEWAY_UPSTREAM_TIMEOUT = env.positive_number("GATEWAY_UPSTREAM_TIMEOUT", default=5.0)
GATEWAY_MAX_BODY_BYTES = env.positive_number(
    "GATEWAY_MAX_BODY_BYTES", default=1024 * 1024, integer=True
)

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "gateway",
]
# The hot path stays lean: no sessions, CSRF, messages or static files.
MIDDLEWARE = [
    "servicekit.middleware.RequestIdMiddleware",
    "servicekit.middleware.AccessLogMiddleware",
    "servicekit.middleware.BodySizeLimitMiddleware",
]
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
APPEND_SLASH = False

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
    "READINESS_CHECKS": [
        "servicekit.health.check_redis",
        "gateway.health.check_upstreams",
    ],
}
LOGGING = logging_config(service=SERVICE_NAME, level=env.str("LOG_LEVEL", default="INFO"))
