"""Helpers for todo-service's tests: todos, outbox events, a Redis to stop and start."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connection, transaction
from servicekit import events
from servicekit.outbox.models import OutboxMessage

from todos import services
from todos.models import Priority, Todo

ALICE, BOB = 7, 8
# The todo object of docs/spec/api.md, "Todos", field for field.
TODO_FIELDS = {
    "id",
    "title",
    "description",
    "completed",
    "priority",
    "due_date",
    "user_id",
    "created_at",
    "updated_at",
    "completed_at",
}
T = TypeVar("T")


def make_todo(user_id: int = ALICE, **fields: Any) -> Todo:
    fields.setdefault("title", "buy milk")
    fields.setdefault("priority", Priority.NORMAL)
    return services.todo_create(user_id=user_id, **fields)


def outbox_events(event_type: str | None = None) -> list[dict[str, Any]]:
    """The envelopes in the outbox, oldest first, each validated against its schema."""
    rows = OutboxMessage.objects.order_by("id")
    if event_type:
        rows = rows.filter(event_type=event_type)
    envelopes = [row.as_envelope() for row in rows]
    for envelope in envelopes:
        events.validate(envelope)
    return envelopes


def on_postgresql() -> bool:
    return connection.vendor == "postgresql"


def run_concurrently(action: Callable[[], T], *, threads: int = 2) -> list[T]:
    """Run ``action`` in ``threads`` threads released at the same moment; their results.

    Each thread has its own database connection, as concurrent requests do.
    """
    barrier = threading.Barrier(threads)
    results: list[T] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(action())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return results


def in_failing_transaction(action: Callable[[], object]) -> None:
    """Run ``action`` in a transaction that then fails (as a request that errors later)."""
    with transaction.atomic():
        action()
        raise RuntimeError("the request failed after the change was written")
