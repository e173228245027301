"""A worker's or relay's own ``/metrics`` port, for when it runs in a container of its own.

On one machine a worker writes into its service's metrics directory and the
service's ``/metrics`` shows it; in a container (compose, Kubernetes) nobody
else reads that directory, so the process serves it on
``SERVICEKIT["WORKER_METRICS_PORT"]`` (unset: no server).
"""

from __future__ import annotations

import logging

from servicekit.settings import servicekit_settings

logger = logging.getLogger(__name__)

_started: int | None = None


def serve_worker_metrics() -> int | None:
    """Start the HTTP server once per process; returns its port, None when not configured."""
    global _started
    port = servicekit_settings.WORKER_METRICS_PORT
    if not port:
        return None
    if _started is None:
        from prometheus_client import start_http_server

        from servicekit.metrics.views import registry

        start_http_server(int(port), registry=registry())
        _started = int(port)
        logger.info("metrics_server_started", extra={"port": _started})
    return _started
