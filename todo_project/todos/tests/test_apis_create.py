"""POST /todos and authentication (docs/spec/api.md, "Todos"), with every error case."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient
from servicekit.outbox.models import OutboxMessage

from todos.models import Todo
from todos.tests.support import ALICE, BOB, TODO_FIELDS, outbox_events

pytestmark = pytest.mark.django_db

# -- POST /todos ---------------------------------------------------------------


def test_create_returns_the_todo_with_defaults(alice: APIClient) -> None:
    response = alice.post("/todos", {"title": "  buy milk  "}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == TODO_FIELDS
    assert body["title"] == "buy milk"
    assert body["description"] == ""
    assert body["completed"] is False
    assert body["priority"] == "normal"
    assert body["due_date"] is None
    assert body["user_id"] == ALICE
    assert body["completed_at"] is None
    assert Todo.objects.get(pk=body["id"]).user_id == ALICE


def test_create_accepts_every_writable_field(alice: APIClient) -> None:
    response = alice.post(
        "/todos/",
        {
            "title": "taxes",
            "description": "form 1040",
            "priority": "high",
            "due_date": "2027-04-15",
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["description"], body["priority"], body["due_date"]) == (
        "form 1040",
        "high",
        "2027-04-15",
    )


def test_create_ignores_user_id_id_and_timestamps_from_the_client(alice: APIClient) -> None:
    response = alice.post(
        "/todos",
        {
            "title": "mine",
            "user_id": BOB,
            "id": 999,
            "completed_at": "2020-01-01T00:00:00Z",
            "created_at": "2020-01-01T00:00:00Z",
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["user_id"] == ALICE
    assert body["id"] != 999
    assert body["completed_at"] is None
    assert not body["created_at"].startswith("2020")


def test_create_writes_one_todo_created_event(alice: APIClient) -> None:
    response = alice.post("/todos", {"title": "buy milk", "priority": "low"}, format="json")

    [event] = outbox_events()
    assert event["type"] == "todo.created"
    assert event["subject"] == f"todos/{response.json()['id']}"
    assert event["data"] == {
        "todo_id": response.json()["id"],
        "user_id": ALICE,
        "title": "buy milk",
        "priority": "low",
        "due_date": None,
        "version": 1,
    }


def test_the_callers_traceparent_travels_into_the_event(alice: APIClient) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    alice.post("/todos", {"title": "traced"}, format="json", HTTP_TRACEPARENT=traceparent)

    [event] = outbox_events()
    assert event["traceparent"] == traceparent


INVALID_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("missing title", {"description": "x"}, "title"),
    ("empty title", {"title": ""}, "title"),
    ("whitespace-only title", {"title": "   \t "}, "title"),
    ("201-character title", {"title": "x" * 201}, "title"),
    ("title of the wrong type", {"title": 42}, "title"),
    ("null title", {"title": None}, "title"),
    ("5001-character description", {"title": "ok", "description": "d" * 5001}, "description"),
    ("description of the wrong type", {"title": "ok", "description": ["a"]}, "description"),
    ("unknown priority", {"title": "ok", "priority": "urgent"}, "priority"),
    ("priority as a number", {"title": "ok", "priority": 3}, "priority"),
    ("impossible date", {"title": "ok", "due_date": "2027-02-30"}, "due_date"),
    ("date in another format", {"title": "ok", "due_date": "15/04/2027"}, "due_date"),
    ("date of the wrong type", {"title": "ok", "due_date": 20270415}, "due_date"),
    ("completed as a string", {"title": "ok", "completed": "yes"}, "completed"),
]


@pytest.mark.parametrize(
    ("body", "field"), [(b, f) for _, b, f in INVALID_BODIES], ids=[i for i, _, _ in INVALID_BODIES]
)
def test_invalid_bodies_are_400_naming_the_field_and_write_nothing(
    alice: APIClient, body: dict[str, Any], field: str
) -> None:
    response = alice.post("/todos", body, format="json")

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert isinstance(response.json()[field], list)
    assert Todo.objects.count() == 0
    assert OutboxMessage.objects.count() == 0


def test_a_200_character_title_after_trimming_is_accepted(alice: APIClient) -> None:
    response = alice.post("/todos", {"title": "  " + "x" * 200 + "  "}, format="json")

    assert response.status_code == 201
    assert len(response.json()["title"]) == 200


@pytest.mark.parametrize(
    "raw", ['{"title": "unterminated', "not json", '["a", "list"]', '"a string"']
)
def test_malformed_json_or_not_an_object_is_400(alice: APIClient, raw: str) -> None:
    response = alice.generic("POST", "/todos", raw, content_type="application/json")

    assert response.status_code == 400
    body = response.json()
    assert "detail" in body or "non_field_errors" in body
    assert Todo.objects.count() == 0


# -- authentication --------------------------------------------------------------


@pytest.mark.usefixtures("token_factory")
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/todos"),
        ("post", "/todos"),
        ("get", "/todos/1"),
        ("patch", "/todos/1"),
        ("put", "/todos/1"),
        ("delete", "/todos/1"),
        ("post", "/todos/1/complete"),
        ("get", "/todos/stats"),
    ],
)
def test_without_a_token_every_endpoint_is_401_with_www_authenticate(
    method: str, path: str
) -> None:
    response = getattr(APIClient(), method)(path)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] == "not_authenticated"


def test_a_bad_token_is_401(token_factory: Any) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")

    response = client.get("/todos")

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_a_service_token_cannot_use_the_user_api(service_client: APIClient) -> None:
    response = service_client.get("/todos")

    assert response.status_code == 403
