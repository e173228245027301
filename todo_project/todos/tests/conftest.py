"""Fixtures for todo-service's tests: API clients with real tokens, a private Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient
from servicekit.testing import RedisServer, TokenFactory

from todos.tests.support import ALICE, BOB


@pytest.fixture
def api_as(token_factory: TokenFactory) -> Callable[[int], APIClient]:
    """``api_as(7)``: a client sending a real RS256 access token for user 7."""

    def make(user_id: int) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_factory.access(user_id)}")
        return client

    return make


@pytest.fixture
def alice(api_as: Callable[[int], APIClient]) -> APIClient:
    return api_as(ALICE)


@pytest.fixture
def bob(api_as: Callable[[int], APIClient]) -> APIClient:
    return api_as(BOB)


@pytest.fixture
def service_client(token_factory: TokenFactory) -> APIClient:
    """user-service calling with a service token allowed to erase todos."""
    client = APIClient()
    token = token_factory.service("user-service", scope="todos:erase")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def private_redis(settings: Any) -> Iterator[RedisServer]:
    """A Redis only this test uses, as broker and wake-up channel of the outbox."""
    server = RedisServer()
    server.start()
    settings.SERVICEKIT = {
        **settings.SERVICEKIT,
        "REDIS_URL": server.url,
        "BROKER_URL": server.url,
    }
    yield server
    server.stop()
