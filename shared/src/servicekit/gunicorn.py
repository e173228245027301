"""gunicorn settings every service shares; a project's ``gunicorn.conf.py`` star-imports them.

Each value can be overridden from the environment (``GUNICORN_WORKERS`` ...).
The worker is :class:`servicekit.server.EdgeWorker` (gevent, one greenlet per
connection, deadlines for slow clients); gunicorn reads this file before it
loads Django, which is where gevent must patch the standard library.
"""

from gevent import monkey

monkey.patch_all()

# psycopg2 waits on PostgreSQL through gevent too (services with a database).
try:
    from psycogreen.gevent import patch_psycopg
except ImportError:  # api-gateway: no database, no psycopg2
    pass
else:
    patch_psycopg()

import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

from servicekit import server  # noqa: E402


def env_count(variable: str, default: int) -> int:
    """A positive whole number from the environment, or one clear line and exit 2.

    A project's ``gunicorn.conf.py`` uses it to give a setting its own default.
    """
    raw = os.environ.get(variable, "") or str(default)
    if not raw.isdigit() or int(raw) < 1:
        sys.exit(f"gunicorn: configuration error: {variable}: {raw!r} is not a whole number >= 1")
    return int(raw)


def raise_descriptor_limit() -> None:
    """Lift the soft limit on open files to the hard one.

    Every connection a worker holds is a descriptor, and soft limits are often
    1,024 where the hard limit (the container engine's, the node's) is far higher.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


raise_descriptor_limit()
workers = env_count("GUNICORN_WORKERS", 2)
worker_class = "servicekit.server.EdgeWorker"
# Connections one worker holds at once, slow and idle ones included (each a
# greenlet of a few kilobytes); the process's descriptor limit must allow them.
worker_connections = env_count("GUNICORN_WORKER_CONNECTIONS", 10000)
# Load Django once in the master: a bad setting stops the service before any
# worker forks (with one clear line), and workers share the loaded code.
preload_app = True
timeout = env_count("GUNICORN_TIMEOUT", 30)
graceful_timeout = 10
# Seconds a connection may take to send a request head, first or next (kept alive).
# GUNICORN_CLIENT_TIMEOUT (servicekit.server) bounds the body and every read and write.
keepalive = server.HEAD_TIMEOUT
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
    "timeout",
    "worker_class",
    "worker_connections",
    "worker_exit",
    "workers",
]
