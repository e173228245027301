"""Idempotency-Key on POST /todos: the same request twice creates one todo."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from todos.idempotency import idempotency_keys_prune
from todos.models import IdempotencyKey, Todo
from todos.tests.support import ALICE, run_concurrently


@pytest.mark.django_db
class TestIdempotencyKey:
    def test_a_repeat_returns_the_first_response_and_creates_nothing(
        self, alice: APIClient
    ) -> None:
        first = alice.post(
            "/todos", {"title": "pay rent"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
        )
        again = alice.post(
            "/todos", {"title": "pay rent"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
        )

        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again["Idempotent-Replayed"] == "true"
        assert Todo.objects.count() == 1

    def test_key_order_and_spacing_of_the_body_do_not_matter(self, alice: APIClient) -> None:
        first = alice.generic(
            "POST",
            "/todos",
            '{"title": "a", "priority": "high"}',
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="k1",
        )
        again = alice.generic(
            "POST",
            "/todos",
            '{"priority":"high","title":"a"}',
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="k1",
        )

        assert again.json()["id"] == first.json()["id"]

    def test_the_same_key_with_another_body_is_422(self, alice: APIClient) -> None:
        alice.post("/todos", {"title": "pay rent"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

        response = alice.post(
            "/todos", {"title": "pay more rent"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
        )

        assert response.status_code == 422
        assert response.json()["code"] == "idempotency_key_reused"
        assert Todo.objects.count() == 1

    def test_keys_belong_to_one_user(
        self, alice: APIClient, api_as: Callable[[int], APIClient]
    ) -> None:
        mine = alice.post("/todos", {"title": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
        theirs = api_as(99).post("/todos", {"title": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

        assert theirs.status_code == 201
        assert theirs.json()["id"] != mine.json()["id"]
        assert theirs.json()["user_id"] == 99

    def test_a_key_older_than_24_hours_is_forgotten(self, alice: APIClient) -> None:
        first = alice.post("/todos", {"title": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
        IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))

        again = alice.post("/todos", {"title": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

        assert again.status_code == 201
        assert again.json()["id"] != first.json()["id"]

    def test_an_invalid_body_is_not_remembered(self, alice: APIClient) -> None:
        bad = alice.post("/todos", {"title": ""}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
        good = alice.post("/todos", {"title": ""}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

        assert bad.status_code == good.status_code == 400
        assert IdempotencyKey.objects.count() == 0

    @pytest.mark.parametrize("key", ["", "x" * 256, "has space", "naïve"])
    def test_a_malformed_key_is_400(self, alice: APIClient, key: str) -> None:
        response = alice.post("/todos", {"title": "a"}, format="json", HTTP_IDEMPOTENCY_KEY=key)

        assert response.status_code == 400
        assert response.json()["code"] == "invalid_idempotency_key"
        assert Todo.objects.count() == 0

    def test_pruning_deletes_only_expired_keys(self, alice: APIClient) -> None:
        alice.post("/todos", {"title": "old"}, format="json", HTTP_IDEMPOTENCY_KEY="old")
        IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
        alice.post("/todos", {"title": "new"}, format="json", HTTP_IDEMPOTENCY_KEY="new")

        assert idempotency_keys_prune() == 1
        assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_repeats_create_one_todo(api_as: Callable[[int], APIClient]) -> None:
    # given two clients about to send the same request with the same key
    def post() -> tuple[int, int]:
        response = api_as(ALICE).post(
            "/todos", {"title": "once"}, format="json", HTTP_IDEMPOTENCY_KEY="race"
        )
        return response.status_code, response.json()["id"]

    # when they send it at the same moment
    results = run_concurrently(post, threads=4)

    # then all get the same 201 and the same id, and one todo exists
    assert {status for status, _ in results} == {201}
    assert len({todo_id for _, todo_id in results}) == 1
    assert Todo.objects.count() == 1
