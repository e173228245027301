from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from servicekit.events import build_envelope

from notifications.integrations import users
from notifications.tests.support import CLIENT_ID, CLIENT_SECRET, SmtpSink, UserServiceDouble

OWNER_ID = 7
OWNER_EMAIL = "alice@example.com"

Envelope = dict[str, Any]
_todo_ids = itertools.count(100)


@pytest.fixture
def smtp_sink(settings: Any) -> Iterator[SmtpSink]:
    """A real SMTP server; the service sends to it through Django's SMTP backend."""
    sink = SmtpSink()
    sink.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
    yield sink
    sink.stop()


@pytest.fixture
def user_service(settings: Any) -> Iterator[UserServiceDouble]:
    """An HTTP peer answering like user-service, knowing the todo owner."""
    double = UserServiceDouble()
    double.add_user(OWNER_ID, OWNER_EMAIL)
    double.start()
    settings.USER_SERVICE_URLS = [double.url]
    settings.SERVICE_CLIENT_ID, settings.SERVICE_CLIENT_SECRET = CLIENT_ID, CLIENT_SECRET
    users.reset()
    yield double
    double.stop()
    users.reset()


@pytest.fixture
def todo_completed() -> Callable[..., Envelope]:
    """A schema-valid ``todo.completed`` envelope (a new event id each call)."""

    def make(*, user_id: int = OWNER_ID, title: str = "buy milk", **data: Any) -> Envelope:
        todo_id = data.pop("todo_id", next(_todo_ids))
        return build_envelope(
            event_type="todo.completed",
            source="todo-service",
            subject=f"todos/{todo_id}",
            data={
                "todo_id": todo_id,
                "user_id": user_id,
                "title": title,
                "completed_at": "2026-11-25T10:00:00.100Z",
                **data,
            },
        )

    return make
