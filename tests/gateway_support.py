"""Helpers for the gateway's end-to-end tests: a user with a token, through the gateway."""

from __future__ import annotations

import uuid

import requests

PASSWORD = "a-Long-passw0rd!"  # a test user's, on a throwaway suite


def register_and_login(suite) -> dict:  # type: ignore[no-untyped-def]
    """A fresh user signed up and logged in through the gateway; the login response."""
    password = PASSWORD
    username = f"u{uuid.uuid4().hex[:10]}"
    gateway = suite.url("api-gateway", "")
    registered = requests.post(
        f"{gateway}/auth/register",
        json={"username": username, "email": f"{username}@example.com", "password": password},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    login = requests.post(
        f"{gateway}/auth/login", json={"username": username, "password": password}, timeout=10
    )
    assert login.status_code == 200, login.text
    return dict(login.json())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
