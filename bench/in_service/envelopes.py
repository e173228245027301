"""``todo.completed`` envelopes as todo-service builds them, for todos that need not exist.

Neither the relay nor the notification worker looks a todo up, so the relay and
notification benchmarks send events about made-up todos (ids from a random
start at 10**9 or more). Django must be set up first (:func:`bench.in_service.setup`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any


def completed_envelopes(count: int, user_id: int, tag: str) -> Iterator[dict[str, Any]]:
    """``count`` validated envelopes of ``user_id``'s todos titled ``"TAG 0"``, ``"TAG 1"`` ..."""
    from django.utils import timezone
    from servicekit import events

    first_todo_id = random.randrange(10**9, 2 * 10**9)  # noqa: S311 - made-up ids, not secrets
    for number in range(count):
        todo_id = first_todo_id + number
        envelope = events.build_envelope(
            event_type="todo.completed",
            source="todo-service",
            subject=f"todos/{todo_id}",
            data={
                "todo_id": todo_id,
                "user_id": user_id,
                "title": f"{tag} {number}",
                "completed_at": events.isoformat(timezone.now()),
                "version": 2,
            },
        )
        events.validate(envelope)
        yield envelope
