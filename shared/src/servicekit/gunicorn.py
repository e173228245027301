"""gunicorn settings every service shares; a project's ``gunicorn.conf.py`` star-imports them.

Each value can be overridden from the environment (``GUNICORN_WORKERS`` ...).
"""

import os
import sys
from typing import Any


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


def post_fork(server: object, worker: object) -> None:
    """Each worker records its own spans (a span processor's thread must not cross a fork)."""
    from servicekit import tracing

    tracing.start()


def worker_exit(server: object, worker: object) -> None:
    """Export the spans a worker still holds before it goes."""
    from servicekit import tracing

    tracing.shutdown()


def child_exit(server: object, worker: Any) -> None:
    """A worker is gone: its live gauges leave the service's /metrics."""
    from servicekit import metrics

    metrics.mark_process_dead(worker.pid)


__all__ = [
    "accesslog",
    "child_exit",
    "control_socket_disable",
    "graceful_timeout",
    "keepalive",
    "post_fork",
    "preload_app",
    "threads",
    "timeout",
    "worker_class",
    "worker_exit",
    "workers",
]
