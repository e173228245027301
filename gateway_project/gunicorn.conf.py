"""gunicorn settings for api-gateway (shared values come from servicekit)."""

import os

from servicekit.gunicorn import *  # noqa: F403
from servicekit.gunicorn import env_count

# The gateway waits on I/O (Redis, the services) and does little work per request:
# one process serves it, its connections each a greenlet. Past one core's worth
# of gateway work, raise GUNICORN_WORKERS.
workers = env_count("GUNICORN_WORKERS", 1)

wsgi_app = "config.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8080')}")
