"""Reads are scoped to one user's visible todos."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from todos import erasure, selectors
from todos.models import Priority
from todos.tests.support import ALICE, BOB, make_todo

pytestmark = pytest.mark.django_db


def test_todo_list_is_scoped_and_hides_archived_todos() -> None:
    mine = make_todo(ALICE)
    make_todo(BOB)
    make_todo(BOB)

    assert list(selectors.todo_list(user_id=ALICE)) == [mine]
    erasure.user_todos_erase(user_id=ALICE, saga_id=uuid.uuid4())
    assert list(selectors.todo_list(user_id=ALICE)) == []


def test_todo_stats_counts_in_one_query(django_assert_num_queries: Any) -> None:
    make_todo(ALICE, priority=Priority.HIGH, completed=True)
    make_todo(ALICE)

    with django_assert_num_queries(1):
        stats = selectors.todo_stats(user_id=ALICE)

    assert stats == {
        "total_todos": 2,
        "completed_todos": 1,
        "pending_todos": 1,
        "high_priority_todos": 1,
    }


def test_the_list_query_reads_a_user_scoped_index() -> None:
    from django.db import connection

    for _ in range(3):
        make_todo(ALICE)
    if connection.vendor == "postgresql":
        # On three rows a sequential scan is cheapest; ask what it would use on many.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")

    plan = selectors.todo_list(user_id=ALICE, completed=False).explain()

    assert "todo_user_" in plan, plan
