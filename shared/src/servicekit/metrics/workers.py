"""Celery workers: task outcomes and durations, span names, and the worker's metrics port.

A project's ``config/celery.py`` calls, once its app exists::

    observe_celery_worker(app, process_name="notification-worker")
"""

from __future__ import annotations

import time
from typing import Any

from celery import Celery, signals

from servicekit import tracing
from servicekit.metrics.exposition import serve_worker_metrics

_started: dict[str, float] = {}


def observe_celery_worker(app: Celery, *, process_name: str) -> None:
    """Count and time every task this worker runs; name its spans ``process_name``."""
    tracing.set_process_name(process_name)
    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="servicekit-prerun")
    signals.task_postrun.connect(_task_finished, weak=False, dispatch_uid="servicekit-postrun")
    signals.worker_ready.connect(_worker_ready, weak=False, dispatch_uid="servicekit-ready")


def _task_started(*, task_id: str, **kwargs: Any) -> None:
    _started[task_id] = time.monotonic()


def _task_finished(*, task_id: str, task: Any, state: str | None = None, **kwargs: Any) -> None:
    from servicekit.metrics.defs import CELERY_TASK_DURATION, CELERY_TASKS

    started = _started.pop(task_id, None)
    name = getattr(task, "name", None) or "unknown"
    CELERY_TASKS.labels(name, (state or "unknown").lower()).inc()
    if started is not None:
        CELERY_TASK_DURATION.labels(name).observe(time.monotonic() - started)


def _worker_ready(**kwargs: Any) -> None:
    serve_worker_metrics()
