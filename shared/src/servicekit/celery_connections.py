"""A Celery worker's database connection, kept from one task to the next.

Celery's Django fixup closes every database connection before and after each
task (Celery 5.5 went back to that, because Django's
``close_if_unusable_or_obsolete`` cannot always tell that a connection broke).
A new PostgreSQL connection per task is a TCP connection, authentication and a
new server process: in ``bench/notifications.py`` it was 14 % of a worker's
time per email.

:func:`keep_database_connections` lets the fixup close connections only every
``reuse_max`` tasks, and does around each task what Django does around each
request, plus one rule for errors:

- before a task, :func:`django.db.close_old_connections`: a connection older
  than ``CONN_MAX_AGE`` is closed, and with ``CONN_HEALTH_CHECKS`` one that is
  reused is checked before its first query;
- after a task that failed or is to be retried, every connection is closed
  outright, so that an error (a restarted PostgreSQL, a query cut short) never
  leaves a half-broken connection to the next task.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, signals
from django.db import close_old_connections, connections

DEFAULT_REUSE_MAX = 1000


def keep_database_connections(app: Celery, *, reuse_max: int = DEFAULT_REUSE_MAX) -> None:
    """Reuse the worker processes' database connections across tasks (see the module)."""
    # The fixup reads this name (the old-style one) when the worker starts.
    app.conf.update(CELERY_DB_REUSE_MAX=reuse_max)
    signals.task_prerun.connect(_before_task, weak=False, dispatch_uid="servicekit-db-prerun")
    for signal in (signals.task_failure, signals.task_retry):
        signal.connect(_close_all, weak=False, dispatch_uid=f"servicekit-db-{signal.name}")


def _before_task(*, sender: Any = None, **kwargs: Any) -> None:
    if not _eager(sender):
        close_old_connections()


def _close_all(*, sender: Any = None, **kwargs: Any) -> None:
    if not _eager(sender):
        for connection in connections.all(initialized_only=True):
            connection.close()


def _eager(task: Any) -> bool:
    """A task run in-process (``CELERY_TASK_ALWAYS_EAGER``, tests) shares the caller's
    connection, maybe inside its transaction: it is not the worker's to close."""
    return bool(getattr(getattr(task, "request", None), "is_eager", False))
