"""gunicorn settings every service shares; a project's ``gunicorn.conf.py`` star-imports them.

Each value can be overridden from the environment (``GUNICORN_WORKERS`` ...).
"""

import os
import sys


def env_count(variable: str, default: int) -> int:
    """A positive whole number from the environment, or one clear line and exit 2.

    A project's ``gunicorn.conf.py`` uses it to give a setting its own default.
    """
    raw = os.environ.get(variable, "") or str(default)
    if not raw.isdigit() or int(raw) < 1:
        sys.exit(f"gunicorn: configuration error: {variable}: {raw!r} is not a whole number >= 1")
    return int(raw)


workers = env_count("GUNICORN_WORKERS", 2)
threads = env_count("GUNICORN_THREADS", 4)
worker_class = "gthread"
# Load Django once in the master: a bad setting stops the service before any
# worker forks (with one clear line), and workers share the loaded code.
preload_app = True
timeout = env_count("GUNICORN_TIMEOUT", 30)
graceful_timeout = 10
keepalive = 5
# Django's LOGGING (JSON) takes over gunicorn's loggers once the app is loaded;
# servicekit's access-log middleware writes the per-request line.
accesslog = None
# Several services (and several copies of the suite) run side by side: no shared control socket.
control_socket_disable = True

__all__ = [
    "accesslog",
    "control_socket_disable",
    "graceful_timeout",
    "keepalive",
    "preload_app",
    "threads",
    "timeout",
    "worker_class",
    "workers",
]
