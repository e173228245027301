"""Django configured in code, as Django REST framework's own suite does: no project needed.

Redis is a real server named by ``REDIS_URL`` (default: the local one, db 15); the
database is an in-memory SQLite one. "Unavailable" cases point a setting at a
closed port, so the failure is a real connection refusal.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings

from servicekit import defaults
from servicekit.logging import JsonFormatter, logging_config

pytest_plugins = ["servicekit.testing"]

# Middleware that needs apps or files these tests do not install.
UNUSED_MIDDLEWARE = {
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
}

SERVICEKIT = {
    "SERVICE_NAME": "test-service",
    "SERVICE_VERSION": "9.9.9",
    "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
}


def pytest_configure(config: pytest.Config) -> None:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="servicekit-tests-not-secret",
        ALLOWED_HOSTS=["testserver"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "rest_framework",
            "saga_app",  # a small participant for servicekit.saga (tests/saga_app)
        ],
        MIDDLEWARE=[name for name in defaults.MIDDLEWARE if name not in UNUSED_MIDDLEWARE],
        ROOT_URLCONF="urls",
        # As in a service that documents its API (drf-spectacular's schema for every view).
        REST_FRAMEWORK={
            **defaults.REST_FRAMEWORK,
            "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
        },
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        USE_TZ=True,
        SERVICEKIT=dict(SERVICEKIT),
        LOGGING=logging_config(service="test-service"),
    )


LogLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def json_logs() -> Iterator[LogLines]:
    """What the configured console handler (``LOGGING``) writes during the test, parsed.

    Each line must be one JSON object: ``json.loads`` fails the test otherwise.
    """
    handler = next(
        h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)
    )
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in buffer.getvalue().splitlines()]

    yield lines
    if previous is not None:
        handler.setStream(previous)


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on: connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
