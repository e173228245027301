"""The saga worker's periodic sweep, as a Celery worker bootstep.

Every worker consuming ``user.saga`` looks for due sagas every
``SAGA_SWEEP_SECONDS`` on the worker's own timer (no separate beat process):
sagas waiting for a retry, sagas whose dispatch message was lost, and sagas a
crashed worker left behind once their lease expires. Several workers sweeping
at once dispatch each saga once (see :func:`sagas.engine.dispatch_due`).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import bootsteps
from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)


def sweep() -> None:
    from sagas import engine

    close_old_connections()  # the timer outlives connections the database closed
    try:
        engine.dispatch_due()
    except Exception:
        logger.exception("saga_sweep_failed")


class SagaSweep(bootsteps.StartStopStep):
    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.timer_entry: Any = None

    def start(self, worker: Any) -> None:
        self.timer_entry = worker.timer.call_repeatedly(
            settings.SAGA_SWEEP_SECONDS, sweep, priority=10
        )

    def stop(self, worker: Any) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None
