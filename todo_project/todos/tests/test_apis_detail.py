"""GET/PUT/PATCH/DELETE /todos/{id} and complete, with BOLA for every method."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient
from servicekit.outbox.models import OutboxMessage

from todos.models import Priority
from todos.tests.support import ALICE, BOB, make_todo, outbox_events

pytestmark = pytest.mark.django_db

# -- GET/PUT/PATCH/DELETE /todos/{id}, complete ---------------------------------


def test_get_one(alice: APIClient) -> None:
    todo = make_todo(ALICE, title="mine")

    response = alice.get(f"/todos/{todo.pk}")

    assert response.status_code == 200
    assert response.json()["title"] == "mine"


@pytest.mark.parametrize("method", ["patch", "put"])
def test_put_and_patch_are_both_partial(alice: APIClient, method: str) -> None:
    todo = make_todo(ALICE, title="old", description="keep me", priority=Priority.LOW)

    response = getattr(alice, method)(f"/todos/{todo.pk}", {"title": "new"}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["title"], body["description"], body["priority"]) == ("new", "keep me", "low")


def test_update_validates_like_create_and_changes_nothing_when_invalid(alice: APIClient) -> None:
    todo = make_todo(ALICE, title="old")

    response = alice.patch(
        f"/todos/{todo.pk}", {"title": "ok", "priority": "urgent"}, format="json"
    )

    assert response.status_code == 400
    assert "priority" in response.json()
    todo.refresh_from_db()
    assert todo.title == "old"


def test_update_ignores_user_id_and_completed_at(alice: APIClient) -> None:
    todo = make_todo(ALICE)

    response = alice.patch(
        f"/todos/{todo.pk}",
        {"user_id": BOB, "completed_at": "2020-01-01T00:00:00Z", "id": 1234},
        format="json",
    )

    assert response.status_code == 200
    todo.refresh_from_db()
    assert (todo.user_id, todo.completed_at, todo.pk) == (ALICE, None, response.json()["id"])


def test_patch_completed_sets_and_clears_completed_at(alice: APIClient) -> None:
    todo = make_todo(ALICE)

    done = alice.patch(f"/todos/{todo.pk}", {"completed": True}, format="json").json()
    undone = alice.patch(f"/todos/{todo.pk}", {"completed": False}, format="json").json()

    assert done["completed"] is True
    assert done["completed_at"] is not None
    assert undone["completed"] is False
    assert undone["completed_at"] is None
    assert len(outbox_events("todo.completed")) == 1


@pytest.mark.parametrize("method", ["post", "put"])
def test_complete_is_idempotent_and_emits_one_event(alice: APIClient, method: str) -> None:
    todo = make_todo(ALICE, title="buy milk")

    first = getattr(alice, method)(f"/todos/{todo.pk}/complete")
    second = getattr(alice, method)(f"/todos/{todo.pk}/complete/")

    assert first.status_code == second.status_code == 200
    assert first.json()["completed"] is True
    assert second.json()["completed_at"] == first.json()["completed_at"]
    [event] = outbox_events("todo.completed")
    assert event["data"]["todo_id"] == todo.pk
    assert event["data"]["title"] == "buy milk"


def test_delete_is_204_then_404_and_emits_todo_deleted(alice: APIClient) -> None:
    todo = make_todo(ALICE)

    deleted = alice.delete(f"/todos/{todo.pk}")
    again = alice.get(f"/todos/{todo.pk}")

    assert deleted.status_code == 204
    assert again.status_code == 404
    [event] = outbox_events("todo.deleted")
    assert event["data"]["todo_id"] == todo.pk


BOLA_REQUESTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("get", "/todos/{id}", None),
    ("patch", "/todos/{id}", {"title": "pwned"}),
    ("put", "/todos/{id}", {"title": "pwned"}),
    ("patch", "/todos/{id}", {"completed": True}),
    ("delete", "/todos/{id}", None),
    ("post", "/todos/{id}/complete", None),
    ("put", "/todos/{id}/complete", None),
]


@pytest.mark.parametrize(("method", "path", "body"), BOLA_REQUESTS)
def test_another_users_todo_is_404_on_every_method_and_stays_untouched(
    bob: APIClient, method: str, path: str, body: dict[str, Any] | None
) -> None:
    # given alice's todo
    todo = make_todo(ALICE, title="alice's")
    events_before = OutboxMessage.objects.count()

    # when bob addresses it by id
    response = getattr(bob, method)(path.format(id=todo.pk), body, format="json")

    # then it does not exist for him, and nothing changed
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    todo.refresh_from_db()
    assert (todo.title, todo.completed) == ("alice's", False)
    assert OutboxMessage.objects.count() == events_before


def test_an_unknown_id_is_404_too(alice: APIClient) -> None:
    assert alice.get("/todos/987654").status_code == 404


def test_the_hot_routes_keep_their_query_counts(
    alice: APIClient, django_assert_num_queries: Any
) -> None:
    # A query more on any of them is CPU and a round trip on every request.
    with django_assert_num_queries(4):  # the todo and its event, in one transaction
        todo_id = alice.post("/todos", {"title": "count me"}, format="json").json()["id"]
    with django_assert_num_queries(1):
        assert alice.get(f"/todos/{todo_id}").json()["title"] == "count me"
    with django_assert_num_queries(
        6
    ):  # read, then in one transaction: lock and re-read, update, event
        completed = alice.patch(f"/todos/{todo_id}", {"completed": True}, format="json")

    assert completed.json()["completed"] is True
    assert [event["type"] for event in outbox_events()][-1] == "todo.completed"
