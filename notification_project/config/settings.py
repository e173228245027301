"""notification-service settings: everything from the environment, read here only.

Defaults make ``./manage-all.sh up`` work with zero setup. With
``DJANGO_ENV=production`` every secret and URL must be given explicitly.
"""

from pathlib import Path

from servicekit import defaults
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
]
MIDDLEWARE = defaults.MIDDLEWARE
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
TEMPLATES = defaults.TEMPLATES
AUTH_PASSWORD_VALIDATORS = defaults.AUTH_PASSWORD_VALIDATORS
APPEND_SLASH = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# The Docker image collects static files into STATIC_ROOT; in development
# whitenoise serves the admin's files straight from the installed apps.
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None
WHITENOISE_USE_FINDERS = STATIC_ROOT is None

REST_FRAMEWORK = defaults.REST_FRAMEWORK

SERVICEKIT = {
    "SERVICE_NAME": SERVICE_NAME,
    "SERVICE_VERSION": __version__,
    "REDIS_URL": REDIS_URL,
}
LOGGING = logging_config(service=SERVICE_NAME, level=env.str("LOG_LEVEL", default="INFO"))
