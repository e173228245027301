"""The account-deletion saga's calls: erase, restore (compensation), purge."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient
from servicekit.testing import TokenFactory

from todos.models import IdempotencyKey, Todo
from todos.tests.support import ALICE, BOB, make_todo

pytestmark = pytest.mark.django_db


def call(client: APIClient, step: str, saga_id: uuid.UUID, user_id: int = ALICE) -> dict[str, Any]:
    response = client.post(
        f"/internal/users/{user_id}/{step}", {"saga_id": str(saga_id)}, format="json"
    )
    return {"status_code": response.status_code, **response.json()}


def test_erase_hides_the_users_todos_from_every_query(
    service_client: APIClient, alice: APIClient
) -> None:
    todo = make_todo(ALICE)
    make_todo(BOB)
    saga = uuid.uuid4()

    result = call(service_client, "erase", saga)

    assert result == {
        "status_code": 200,
        "saga_id": str(saga),
        "user_id": ALICE,
        "status": "erased",
        "todos": 1,
    }
    assert alice.get("/todos").json()["count"] == 0
    assert alice.get(f"/todos/{todo.pk}").status_code == 404
    assert alice.get("/todos/stats").json()["total_todos"] == 0
    assert Todo.objects.filter(user_id=BOB).visible().count() == 1


def test_erase_twice_with_the_same_saga_is_the_same_answer(service_client: APIClient) -> None:
    make_todo(ALICE)
    saga = uuid.uuid4()

    first = call(service_client, "erase", saga)
    again = call(service_client, "erase", saga)

    assert again == first


def test_restore_brings_back_exactly_what_the_saga_erased(
    service_client: APIClient, alice: APIClient
) -> None:
    make_todo(ALICE, title="a")
    make_todo(ALICE, title="b")
    saga = uuid.uuid4()
    call(service_client, "erase", saga)

    restored = call(service_client, "restore", saga)
    again = call(service_client, "restore", saga)

    assert restored["status"] == "restored"
    assert restored["todos"] == 2
    assert again == restored
    assert alice.get("/todos").json()["count"] == 2


def test_a_restore_before_its_erase_blocks_that_erase(service_client: APIClient) -> None:
    # given the saga compensated an erase whose call never arrived
    make_todo(ALICE)
    saga = uuid.uuid4()
    assert call(service_client, "restore", saga)["todos"] == 0

    # when the late erase arrives
    late = call(service_client, "erase", saga)

    # then it is refused and nothing is hidden
    assert late["status_code"] == 409
    assert late["code"] == "saga_conflict"
    assert Todo.objects.visible().count() == 1


def test_purge_deletes_the_archived_todos_and_is_idempotent(service_client: APIClient) -> None:
    make_todo(ALICE)
    IdempotencyKey.objects.create(
        user_id=ALICE, key="k", request_hash="h", status_code=201, response_body={}
    )
    saga = uuid.uuid4()
    call(service_client, "erase", saga)

    purged = call(service_client, "purge", saga)
    again = call(service_client, "purge", saga)
    restore = call(service_client, "restore", saga)

    assert purged["status"] == again["status"] == "purged"
    assert Todo.objects.filter(user_id=ALICE).count() == 0
    assert IdempotencyKey.objects.count() == 0
    assert restore["status_code"] == 409


def test_purge_without_erase_is_409(service_client: APIClient) -> None:
    assert call(service_client, "purge", uuid.uuid4())["status_code"] == 409


def test_a_saga_id_is_bound_to_one_user(service_client: APIClient) -> None:
    saga = uuid.uuid4()
    call(service_client, "erase", saga, user_id=ALICE)

    other = call(service_client, "erase", saga, user_id=BOB)

    assert other["status_code"] == 409


@pytest.mark.parametrize("body", [{}, {"saga_id": "not-a-uuid"}, {"saga_id": 5}])
def test_a_missing_or_bad_saga_id_is_400(service_client: APIClient, body: dict[str, Any]) -> None:
    response = service_client.post("/internal/users/7/erase", body, format="json")

    assert response.status_code == 400
    assert "saga_id" in response.json()


@pytest.mark.parametrize("step", ["erase", "restore", "purge"])
def test_user_tokens_are_403_and_anonymous_401(
    step: str, alice: APIClient, token_factory: TokenFactory
) -> None:
    body = {"saga_id": str(uuid.uuid4())}

    as_user = alice.post(f"/internal/users/{ALICE}/{step}", body, format="json")
    anonymous = APIClient().post(f"/internal/users/{ALICE}/{step}", body, format="json")

    assert as_user.status_code == 403
    assert anonymous.status_code == 401


def test_a_service_token_without_the_scope_is_403(token_factory: TokenFactory) -> None:
    todo = make_todo(ALICE)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_factory.service('notification-service')}")

    response = client.post(
        f"/internal/users/{ALICE}/erase", {"saga_id": str(uuid.uuid4())}, format="json"
    )

    assert response.status_code == 403
    assert Todo.objects.visible().filter(pk=todo.pk).exists()
