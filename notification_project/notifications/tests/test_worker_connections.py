"""A worker keeps its database connection from task to task (servicekit.celery_connections).

Celery's own Django fixup would open a new connection for every task; the
signals are sent here as a worker sends them, for a task that is not eager.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from celery import signals
from django.db import connection
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper

from config.celery import app
from notifications.tasks import handle_event

# The sender Celery passes: a task whose request is not eager (it runs in a worker).
WORKER_TASK = handle_event


def dbapi_connection() -> Any:
    connection.ensure_connection()
    return connection.connection


@pytest.fixture
def persistent_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """CONN_MAX_AGE as on PostgreSQL (env.database)."""
    if connection.vendor == "sqlite" and cast(SQLiteWrapper, connection).is_in_memory_db():
        pytest.skip(
            "Django never closes an in-memory SQLite test database; these tests need "
            "NOTIFICATION_DATABASE_URL=postgres://... (as in CI)"
        )
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()


@pytest.mark.usefixtures("transactional_db", "persistent_connections")
def test_a_task_reuses_the_connection_and_a_failed_task_drops_it() -> None:
    # Celery's fixup then closes connections only every 1,000 tasks.
    assert app.conf.get("CELERY_DB_REUSE_MAX") == 1000
    first = dbapi_connection()

    signals.task_prerun.send(sender=WORKER_TASK, task_id="1", task=WORKER_TASK, args=(), kwargs={})
    assert dbapi_connection() is first, "a second task opened a new database connection"

    signals.task_failure.send(sender=WORKER_TASK, task_id="1", exception=RuntimeError("boom"))
    assert dbapi_connection() is not first, "a failed task left its connection to the next one"


@pytest.mark.usefixtures("transactional_db", "persistent_connections")
def test_a_connection_that_broke_is_replaced_before_the_next_task() -> None:
    first = dbapi_connection()
    first.close()  # as when PostgreSQL restarts between two tasks

    signals.task_prerun.send(sender=WORKER_TASK, task_id="2", task=WORKER_TASK, args=(), kwargs={})
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert connection.connection is not first
