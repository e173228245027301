"""gunicorn settings for todo-service (shared values come from servicekit)."""

import os

from servicekit.gunicorn import *  # noqa: F403

wsgi_app = "config.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8081')}")
