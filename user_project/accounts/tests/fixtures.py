"""Fixtures: users and API clients that speak JSON, with and without tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User

PASSWORD = "correct-horse-battery-staple"

MakeUser = Callable[..., User]


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def make_user(db: None) -> MakeUser:
    def make(username: str = "alice", *, password: str = PASSWORD, **fields: Any) -> User:
        fields.setdefault("email", f"{username.lower()}@example.com")
        return User.objects.create_user(username=username, password=password, **fields)

    return make


@pytest.fixture
def login(api: APIClient) -> Callable[..., dict[str, Any]]:
    """Log in through the real endpoint; the response body (access, refresh, ...)."""

    def do_login(username: str = "alice", password: str = PASSWORD) -> dict[str, Any]:
        response = api.post("/auth/login", {"username": username, "password": password})
        assert response.status_code == 200, response.json()
        body: dict[str, Any] = response.json()
        return body

    return do_login


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
