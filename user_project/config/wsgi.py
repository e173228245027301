"""WSGI entry point for gunicorn (``gunicorn.conf.py`` names it)."""

import os

from django.core.wsgi import get_wsgi_application
from servicekit.entrypoints import load_settings_or_exit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
load_settings_or_exit("user-service")

application = get_wsgi_application()
