"""No password, token or client secret ever reaches a log line."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient
from servicekit.logging import JsonFormatter

from accounts.tests.fixtures import PASSWORD, bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything the service's JSON console handler writes, at every level."""
    handler = next(
        h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)
    )
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous_stream = handler.setStream(buffer)
    root, previous_level = logging.getLogger(), logging.getLogger().level
    root.setLevel(logging.DEBUG)
    yield buffer
    root.setLevel(previous_level)
    handler.setStream(previous_stream)


def test_no_secret_appears_in_any_log_line(
    api: APIClient, settings, log_output: io.StringIO
) -> None:
    settings.SERVICE_CLIENTS = {
        "notification-service": {"secret": "client-s3cret-value", "scopes": ["users:read"]}
    }
    settings.USER_LOGIN_RATE_LIMIT = (3, 60)
    secrets = [PASSWORD, "wrong-Passw0rd-guess", "client-s3cret-value"]

    # when a user goes through every auth endpoint, including the failing paths
    api.post(
        "/auth/register", {"username": "alice", "email": "a@example.com", "password": PASSWORD}
    )
    api.post("/auth/register", {"username": "bob", "email": "b@example.com", "password": "123"})
    api.post("/auth/login", {"username": "alice", "password": "wrong-Passw0rd-guess"})
    pair = api.post("/auth/login", {"username": "alice", "password": PASSWORD}).json()
    refreshed = api.post("/auth/refresh", {"refresh": pair["refresh"]}).json()
    api.post("/auth/refresh", {"refresh": pair["refresh"]})  # reuse: refused
    api.get("/users/me", headers=bearer(refreshed["access"]))
    api.post("/auth/logout", {"refresh": refreshed["refresh"]}, headers=bearer(refreshed["access"]))
    api.get("/users/me", headers=bearer(refreshed["access"]))  # revoked
    for _ in range(3):  # throttled
        api.post("/auth/login", {"username": "alice", "password": "wrong-Passw0rd-guess"})
    service = api.post(
        "/auth/token",
        {
            "grant_type": "client_credentials",
            "client_id": "notification-service",
            "client_secret": "client-s3cret-value",
        },
    ).json()
    secrets += [pair["access"], pair["refresh"], refreshed["access"], refreshed["refresh"]]
    secrets += [service["access_token"]]

    # then the logs said something, and none of it is a secret (nor a token's signature)
    output = log_output.getvalue()
    assert "user_logged_in" in output
    assert '"message": "request"' in output
    for secret in secrets:
        assert secret not in output
    for token in secrets[3:]:
        assert token.rsplit(".", 1)[1] not in output
