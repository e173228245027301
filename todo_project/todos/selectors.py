"""Reads: every query is scoped to one user's visible todos."""

from __future__ import annotations

from typing import TypedDict

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404

from todos.models import Priority, Todo, TodoQuerySet

# ?ordering= values and what they sort by; id breaks ties so pages never overlap.
ORDERINGS: dict[str, list[str]] = {
    "created_at": ["created_at", "id"],
    "-created_at": ["-created_at", "-id"],
    "due_date": ["due_date", "id"],
    "-due_date": ["-due_date", "-id"],
    "priority": ["priority", "id"],
    "-priority": ["-priority", "-id"],
}
DEFAULT_ORDERING = "-created_at"


def todo_list(
    *,
    user_id: int,
    completed: bool | None = None,
    priority: Priority | None = None,
    search: str = "",
    ordering: str = DEFAULT_ORDERING,
) -> TodoQuerySet:
    """The user's todos, newest first unless ``ordering`` says otherwise."""
    todos = Todo.objects.visible().filter(user_id=user_id)
    if completed is not None:
        todos = todos.filter(completed=completed)
    if priority is not None:
        todos = todos.filter(priority=priority)
    if search:
        todos = todos.filter(Q(title__icontains=search) | Q(description__icontains=search))
    return todos.order_by(*ORDERINGS[ordering])


def todo_get(*, user_id: int, todo_id: int) -> Todo:
    """The user's todo; someone else's (or an archived one) is a 404, as if it did not exist."""
    return get_object_or_404(Todo.objects.visible(), pk=todo_id, user_id=user_id)


class TodoStats(TypedDict):
    total_todos: int
    completed_todos: int
    pending_todos: int
    high_priority_todos: int


def todo_stats(*, user_id: int) -> TodoStats:
    """Counts over the user's todos, in one query."""
    counts = (
        Todo.objects.visible()
        .filter(user_id=user_id)
        .aggregate(
            total=Count("id"),
            completed=Count("id", filter=Q(completed=True)),
            high=Count("id", filter=Q(priority=Priority.HIGH)),
        )
    )
    return {
        "total_todos": counts["total"],
        "completed_todos": counts["completed"],
        "pending_todos": counts["total"] - counts["completed"],
        "high_priority_todos": counts["high"],
    }
