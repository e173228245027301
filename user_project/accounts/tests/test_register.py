"""POST /auth/register (docs/spec/api.md, "Auth")."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.fixtures import PASSWORD, MakeUser

pytestmark = pytest.mark.django_db


def register(api: APIClient, path: str = "/auth/register", **body: str) -> Any:
    payload = {"username": "alice", "email": "alice@example.com", "password": PASSWORD, **body}
    return api.post(path, payload)


@pytest.mark.parametrize("path", ["/auth/register", "/auth/register/"])
def test_register_creates_the_account(api: APIClient, path: str) -> None:
    response = register(api, path)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "username", "email", "date_joined"}
    assert body["username"] == "alice"
    assert body["email"] == "alice@example.com"
    user = User.objects.get(pk=body["id"])
    assert user.check_password(PASSWORD)
    assert user.password != PASSWORD
    assert not user.is_staff


@pytest.mark.parametrize("taken", ["alice", "ALICE", "Alice"])
def test_usernames_are_unique_whatever_their_case(
    api: APIClient, make_user: MakeUser, taken: str
) -> None:
    make_user(taken)

    response = register(api, username="alice")

    assert response.status_code == 400
    assert "already exists" in response.json()["username"][0]
    assert User.objects.count() == 1


def test_the_database_refuses_a_case_variant_too(make_user: MakeUser) -> None:
    # given a name taken in another case, when something bypasses the service
    make_user("Bob")

    with pytest.raises(IntegrityError):
        User.objects.create(username="bOB")


def test_an_invalid_email_is_refused(api: APIClient) -> None:
    response = register(api, email="not-an-email")

    assert response.status_code == 400
    assert list(response.json()) == ["email"]


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short1", "too short"),
        ("password123", "too common"),
        ("84736251908", "entirely numeric"),
        ("alice-example", "too similar"),
    ],
)
def test_weak_passwords_are_refused_by_djangos_validators(
    api: APIClient, password: str, why: str
) -> None:
    response = register(api, password=password)

    assert response.status_code == 400
    assert why in " ".join(response.json()["password"])
    assert not User.objects.exists()


def test_missing_fields_are_named(api: APIClient) -> None:
    response = api.post("/auth/register", {})

    assert response.status_code == 400
    assert set(response.json()) == {"username", "email", "password"}


def test_a_username_with_spaces_is_refused(api: APIClient) -> None:
    response = register(api, username="al ice")

    assert response.status_code == 400
    assert "username" in response.json()


def test_register_ignores_attempts_to_become_staff(api: APIClient) -> None:
    response = api.post(
        "/auth/register",
        {"username": "mallory", "email": "m@example.com", "password": PASSWORD, "is_staff": True},
    )

    assert response.status_code == 201
    assert not User.objects.get(username="mallory").is_staff


def test_passwords_are_hashed_with_argon2_when_configured(api: APIClient, settings) -> None:
    # given the project's real hasher list (tests otherwise use a fast one)
    from config import settings as project_settings

    settings.PASSWORD_HASHERS = project_settings.PASSWORD_HASHERS

    register(api)

    assert project_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    assert User.objects.get(username="alice").password.startswith("argon2")
