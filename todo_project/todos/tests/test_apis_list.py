"""GET /todos (filters, ordering, pagination), GET /todos/stats, and the API docs."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from rest_framework.test import APIClient

from todos.models import Priority, Todo
from todos.tests.support import ALICE, BOB, make_todo

pytestmark = pytest.mark.django_db

# -- GET /todos ------------------------------------------------------------------


def test_list_shows_only_the_callers_todos_newest_first(alice: APIClient) -> None:
    first = make_todo(ALICE, title="first")
    second = make_todo(ALICE, title="second")
    make_todo(BOB, title="bob's")

    response = alice.get("/todos")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [t["id"] for t in body["results"]] == [second.pk, first.pk]
    assert body["next"] is None
    assert body["previous"] is None


def test_pages_have_next_and_previous_links(alice: APIClient) -> None:
    for n in range(5):
        make_todo(ALICE, title=f"todo {n}")

    page1 = alice.get("/todos", {"page_size": 2}).json()
    page3 = alice.get("/todos", {"page_size": 2, "page": 3}).json()

    assert page1["count"] == 5
    assert len(page1["results"]) == 2
    assert page1["next"] == "http://testserver/todos?page=2&page_size=2"
    assert page1["previous"] is None
    assert len(page3["results"]) == 1
    assert page3["next"] is None


def test_links_point_at_the_gateway_when_proxied(alice: APIClient) -> None:
    for n in range(3):
        make_todo(ALICE, title=f"todo {n}")

    response = alice.get(
        "/todos",
        {"page_size": 1},
        HTTP_X_FORWARDED_HOST="api.example.com",
        HTTP_X_FORWARDED_PROTO="https",
    )

    assert response.json()["next"] == "https://api.example.com/todos?page=2&page_size=1"


def test_page_size_defaults_to_20_and_is_capped_at_100(alice: APIClient) -> None:
    Todo.objects.bulk_create(Todo(user_id=ALICE, title=f"t{n}") for n in range(105))

    default = alice.get("/todos").json()
    capped = alice.get("/todos", {"page_size": 1000}).json()

    assert len(default["results"]) == 20
    assert len(capped["results"]) == 100
    assert capped["count"] == 105


def test_a_page_that_shows_the_end_of_the_list_is_one_query(
    alice: APIClient, django_assert_num_queries: Any
) -> None:
    # given exactly one page of todos (the page is read with one row more than it holds)
    Todo.objects.bulk_create(Todo(user_id=ALICE, title=f"t{n}") for n in range(20))

    # when the page is read, it needs no COUNT(*): the missing 21st row says where it ends
    with django_assert_num_queries(1):
        body = alice.get("/todos").json()

    assert (body["count"], len(body["results"]), body["next"]) == (20, 20, None)


def test_a_page_with_more_after_it_counts_them(
    alice: APIClient, django_assert_num_queries: Any
) -> None:
    Todo.objects.bulk_create(Todo(user_id=ALICE, title=f"t{n}") for n in range(45))

    with django_assert_num_queries(2):  # the page, then COUNT(*)
        first = alice.get("/todos").json()
    with django_assert_num_queries(1):
        last = alice.get("/todos", {"page": 3}).json()

    assert (first["count"], len(first["results"])) == (45, 20)
    assert first["next"] == "http://testserver/todos?page=2"
    assert (last["count"], len(last["results"]), last["next"]) == (45, 5, None)
    assert last["previous"] == "http://testserver/todos?page=2"


@pytest.mark.parametrize("page", [9, 8022142884385565696, 2**64])
def test_a_page_past_the_end_is_404(alice: APIClient, page: int) -> None:
    response = alice.get("/todos", {"page": page})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_filters_completed_priority_and_search(alice: APIClient) -> None:
    milk = make_todo(ALICE, title="Buy MILK", priority=Priority.HIGH)
    bread = make_todo(ALICE, title="bread", description="from the milkman's shop")
    tax = make_todo(ALICE, title="taxes", priority=Priority.HIGH, completed=True)

    def ids(**params: str) -> set[int]:
        response = alice.get("/todos", params)
        assert response.status_code == 200, response.json()
        return {t["id"] for t in response.json()["results"]}

    assert ids(completed="true") == {tax.pk}
    assert ids(completed="false") == {milk.pk, bread.pk}
    assert ids(priority="high") == {milk.pk, tax.pk}
    assert ids(search="milk") == {milk.pk, bread.pk}
    assert ids(search="milk", priority="high", completed="false") == {milk.pk}


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("priority", ["low", "normal", "high"]),
        ("-priority", ["high", "normal", "low"]),
        ("due_date", ["early", "late"]),
        ("-due_date", ["late", "early"]),
        ("created_at", ["low", "normal", "high"]),
        ("-created_at", ["high", "normal", "low"]),
    ],
)
def test_ordering(alice: APIClient, ordering: str, expected: list[str]) -> None:
    if "due_date" in ordering:
        make_todo(ALICE, title="late", due_date=date(2027, 12, 31))
        make_todo(ALICE, title="early", due_date=date(2027, 1, 1))
    else:
        # Created in an order that differs from the priority order's.
        make_todo(ALICE, title="low", priority=Priority.LOW)
        make_todo(ALICE, title="normal", priority=Priority.NORMAL)
        make_todo(ALICE, title="high", priority=Priority.HIGH)

    response = alice.get("/todos", {"ordering": ordering})

    assert [t["title"] for t in response.json()["results"]] == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"completed": "maybe"}, "completed"),
        ({"priority": "urgent"}, "priority"),
        ({"ordering": "title"}, "ordering"),
    ],
)
def test_bad_query_parameters_are_400_naming_them(
    alice: APIClient, params: dict[str, str], field: str
) -> None:
    response = alice.get("/todos", params)

    assert response.status_code == 400
    assert field in response.json()


# -- GET /todos/stats --------------------------------------------------------------


def test_stats_count_the_callers_todos_only(alice: APIClient) -> None:
    make_todo(ALICE, priority=Priority.HIGH)
    make_todo(ALICE, priority=Priority.HIGH, completed=True)
    make_todo(ALICE, priority=Priority.LOW)
    make_todo(BOB, priority=Priority.HIGH)

    response = alice.get("/todos/stats/")

    assert response.status_code == 200
    assert response.json() == {
        "total_todos": 3,
        "completed_todos": 1,
        "pending_todos": 2,
        "high_priority_todos": 2,
    }


# -- the documentation -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/schema", "/docs/"])
def test_openapi_schema_and_swagger_ui_are_served(client: Any, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200


def test_the_schema_describes_the_todo_endpoints(client: Any) -> None:
    schema = client.get("/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    assert {"/todos", "/todos/{todo_id}", "/todos/{todo_id}/complete", "/todos/stats"} <= set(
        schema["paths"]
    )
