"""The list's rows (todo_rows, from .values()) are exactly what TodoSerializer writes."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone

from todos.models import Priority, Todo
from todos.serializers import TODO_FIELDS, TodoSerializer, todo_rows
from todos.tests.support import ALICE, make_todo

pytestmark = pytest.mark.django_db


def test_todo_rows_write_what_the_serializer_writes() -> None:
    # given todos with every kind of value: each priority, a due date or none,
    # completed or not, microseconds or none
    make_todo(ALICE, title="plain", priority=Priority.LOW)
    make_todo(ALICE, title="due", description="with a date", due_date=date(2027, 1, 31))
    done = make_todo(ALICE, title="done", priority=Priority.HIGH)
    Todo.objects.filter(pk=done.pk).update(
        completed=True, completed_at=timezone.now().replace(microsecond=0)
    )
    todos = Todo.objects.order_by("id")

    # when
    rows = todo_rows(todos.values(*TODO_FIELDS))

    # then
    assert rows == [dict(TodoSerializer(todo).data) for todo in todos]
    assert {row["priority"] for row in rows} == {"low", "normal", "high"}
