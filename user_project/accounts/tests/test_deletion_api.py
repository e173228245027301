"""``DELETE /users/me`` starts the deletion saga; ``GET /users/deletions/{id}`` follows it."""

from __future__ import annotations

import uuid

import pytest

from accounts.tests.fixtures import PASSWORD, bearer
from sagas.models import Saga

pytestmark = pytest.mark.django_db

STEP_NAMES = [
    "lock_account",
    "erase_todos",
    "erase_notifications",
    "delete_account",
    "purge_todos",
    "purge_notifications",
]


@pytest.fixture
def alice_token(make_user, login) -> str:
    make_user("alice")
    return str(login("alice")["access"])


def test_the_right_password_starts_the_saga_and_points_at_it(api, alice_token) -> None:
    response = api.delete("/users/me", {"password": PASSWORD}, headers=bearer(alice_token))

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "running"
    saga = Saga.objects.get(pk=body["saga_id"])
    assert saga.username == "alice"
    assert response["Location"] == f"/users/deletions/{saga.pk}"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 400, "password"),
        ({"password": ""}, 400, "password"),
        ({"password": "not-the-password"}, 401, None),
    ],
)
def test_without_the_right_password_nothing_starts(api, alice_token, body, status, field) -> None:
    response = api.delete("/users/me", body, headers=bearer(alice_token))

    assert response.status_code == status
    if field:
        assert field in response.json()
    else:
        assert response.json()["code"] == "wrong_password"
    assert not Saga.objects.exists()


def test_without_a_token_the_account_cannot_be_deleted(api, make_user) -> None:
    make_user("alice")

    response = api.delete("/users/me", {"password": PASSWORD})

    assert response.status_code == 401
    assert not Saga.objects.exists()


def test_asking_twice_gives_the_same_saga(api, alice_token) -> None:
    first = api.delete("/users/me", {"password": PASSWORD}, headers=bearer(alice_token))
    second = api.delete("/users/me", {"password": PASSWORD}, headers=bearer(alice_token))

    assert second.status_code == 202
    assert second.json()["saga_id"] == first.json()["saga_id"]


def test_the_saga_is_readable_without_a_token_with_its_steps(api, alice_token) -> None:
    started = api.delete("/users/me", {"password": PASSWORD}, headers=bearer(alice_token))

    response = api.get(started["Location"])

    assert response.status_code == 200
    body = response.json()
    assert body["saga_id"] == started.json()["saga_id"]
    assert body["status"] == "running"
    assert [step["name"] for step in body["steps"]] == STEP_NAMES
    assert {step["status"] for step in body["steps"]} == {"pending"}
    assert set(body["steps"][0]) >= {"name", "status", "attempts", "started_at", "finished_at"}


@pytest.mark.parametrize("saga_id", [str(uuid.uuid4()), "not-a-uuid"])
def test_an_unknown_saga_is_404(api, saga_id: str) -> None:
    response = api.get(f"/users/deletions/{saga_id}")

    assert response.status_code == 404
    assert "detail" in response.json()
