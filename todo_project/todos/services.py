"""Writes to todos. Each change and the event announcing it commit together, or not at all."""

from __future__ import annotations

from datetime import date
from typing import TypedDict

from django.db import transaction
from django.utils import timezone
from servicekit.events import isoformat
from servicekit.outbox.services import emit_event

from todos.models import Priority, Todo


class TodoChanges(TypedDict, total=False):
    """The fields a user may change (PUT and PATCH are both partial)."""

    title: str
    description: str
    completed: bool
    priority: Priority
    due_date: date | None


@transaction.atomic
def todo_create(
    *,
    user_id: int,
    title: str,
    description: str = "",
    priority: Priority = Priority.NORMAL,
    due_date: date | None = None,
    completed: bool = False,
) -> Todo:
    now = timezone.now()
    todo = Todo.objects.create(
        user_id=user_id,
        title=title,
        description=description,
        priority=priority,
        due_date=due_date,
        completed=completed,
        completed_at=now if completed else None,
    )
    # A todo created as completed never went false -> true: todo.created only.
    _emit_created(todo)
    return todo


@transaction.atomic
def todo_update(*, todo: Todo, changes: TodoChanges) -> Todo:
    """Apply ``changes``; ``completed`` false -> true sets ``completed_at`` and emits one event.

    The row is locked first (``SELECT ... FOR UPDATE``) and re-read, so of two
    concurrent completions only the first sees ``completed=False``: one event.
    A change to the values the todo already has is no change: no new version.
    """
    todo = Todo.objects.select_for_update().get(pk=todo.pk)
    changed = {field: value for field, value in changes.items() if getattr(todo, field) != value}
    if not changed:
        return todo
    was_completed = todo.completed
    for field, value in changed.items():
        setattr(todo, field, value)
    if todo.completed and not was_completed:
        todo.completed_at = timezone.now()
    elif not todo.completed:
        todo.completed_at = None
    todo.version += 1
    todo.save()
    if todo.completed and not was_completed:
        _emit_completed(todo)
    return todo


def todo_complete(*, todo: Todo) -> Todo:
    """Mark it completed; completing a completed todo changes nothing and emits nothing."""
    return todo_update(todo=todo, changes={"completed": True})


@transaction.atomic
def todo_delete(*, todo: Todo) -> None:
    todo = Todo.objects.select_for_update().get(pk=todo.pk)
    emit_event(
        event_type="todo.deleted",
        subject=f"todos/{todo.pk}",
        data={"todo_id": todo.pk, "user_id": todo.user_id, "version": todo.version + 1},
    )
    todo.delete()


def _emit_created(todo: Todo) -> None:
    emit_event(
        event_type="todo.created",
        subject=f"todos/{todo.pk}",
        data={
            "todo_id": todo.pk,
            "user_id": todo.user_id,
            "title": todo.title,
            "priority": Priority(todo.priority).label,
            "due_date": todo.due_date.isoformat() if todo.due_date else None,
            "version": todo.version,
        },
    )


def _emit_completed(todo: Todo) -> None:
    assert todo.completed_at is not None  # noqa: S101 - set in this transaction
    emit_event(
        event_type="todo.completed",
        subject=f"todos/{todo.pk}",
        data={
            "todo_id": todo.pk,
            "user_id": todo.user_id,
            "title": todo.title,
            "completed_at": isoformat(todo.completed_at),
            "version": todo.version,
        },
    )
