"""gunicorn settings every service shares; a project's ``gunicorn.conf.py`` star-imports them.

Each value can be overridden from the environment (``GUNICORN_WORKERS`` ...).
"""

import os

workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
# Load Django once in the master: a bad setting stops the service before any
# worker forks (with one clear line), and workers share the loaded code.
preload_app = True
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
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
