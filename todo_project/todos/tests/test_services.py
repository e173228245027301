"""The services write the change and its event together: all or nothing, exactly once."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import transaction
from servicekit.outbox.models import OutboxMessage
from servicekit.outbox.services import OutsideTransaction, emit_event

from todos import services
from todos.models import Priority, Todo
from todos.tests.support import (
    ALICE,
    in_failing_transaction,
    make_todo,
    outbox_events,
    run_concurrently,
)


@pytest.mark.django_db
class TestEvents:
    def test_every_envelope_matches_its_schema(self) -> None:
        todo = make_todo(ALICE, title="taxes", due_date=date(2027, 4, 15), priority=Priority.HIGH)
        services.todo_complete(todo=todo)
        services.todo_delete(todo=todo)

        envelopes = outbox_events()  # validates each one

        assert [e["type"] for e in envelopes] == ["todo.created", "todo.completed", "todo.deleted"]
        assert {e["source"] for e in envelopes} == {"todo-service"}
        assert len({e["id"] for e in envelopes}) == 3
        assert envelopes[0]["data"]["due_date"] == "2027-04-15"
        assert envelopes[1]["dataschema"] == "todo.completed/1"

    def test_a_rolled_back_change_writes_no_event(self) -> None:
        with pytest.raises(RuntimeError):
            in_failing_transaction(lambda: make_todo(ALICE))

        assert Todo.objects.count() == 0
        assert OutboxMessage.objects.count() == 0

    def test_a_rolled_back_completion_writes_no_event(self) -> None:
        todo = make_todo(ALICE)

        with pytest.raises(RuntimeError):
            in_failing_transaction(lambda: services.todo_complete(todo=todo))

        todo.refresh_from_db()
        assert todo.completed is False
        assert outbox_events("todo.completed") == []

    def test_completing_twice_emits_one_event(self) -> None:
        todo = make_todo(ALICE)

        services.todo_complete(todo=todo)
        services.todo_complete(todo=todo)
        services.todo_update(todo=todo, changes={"completed": True, "title": "still done"})

        assert len(outbox_events("todo.completed")) == 1

    def test_completing_again_after_reopening_emits_again_with_a_newer_version(self) -> None:
        todo = make_todo(ALICE)

        services.todo_complete(todo=todo)
        services.todo_update(todo=todo, changes={"completed": False})
        services.todo_complete(todo=todo)

        first, second = outbox_events("todo.completed")
        assert second["data"]["version"] > first["data"]["version"]
        assert first["id"] != second["id"]

    def test_a_todo_created_completed_emits_only_todo_created(self) -> None:
        todo = make_todo(ALICE, completed=True)

        assert todo.completed_at is not None
        assert [e["type"] for e in outbox_events()] == ["todo.created"]

    def test_an_update_that_changes_nothing_is_no_new_version(self) -> None:
        todo = make_todo(ALICE, title="same")

        updated = services.todo_update(todo=todo, changes={"title": "same"})

        assert updated.version == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_completions_emit_one_event() -> None:
    # given one open todo
    todo = make_todo(ALICE)

    # when two requests complete it at the same moment
    results = run_concurrently(lambda: services.todo_complete(todo=Todo.objects.get(pk=todo.pk)))

    # then both answer "completed", and exactly one event exists
    assert [t.completed for t in results] == [True, True]
    assert len(outbox_events("todo.completed")) == 1
    todo.refresh_from_db()
    assert todo.version == 2


@pytest.mark.django_db(transaction=True)
def test_emit_outside_a_transaction_is_refused() -> None:
    with pytest.raises(OutsideTransaction):
        emit_event(event_type="todo.deleted", subject="todos/1", data={"todo_id": 1, "user_id": 1})

    assert OutboxMessage.objects.count() == 0


@pytest.mark.django_db
def test_an_event_that_does_not_match_its_schema_rolls_the_change_back() -> None:
    from servicekit.events import InvalidEvent

    def change_with_a_malformed_event() -> None:
        with transaction.atomic():
            Todo.objects.create(user_id=ALICE, title="x")
            emit_event(
                event_type="todo.deleted", subject="todos/1", data={"todo_id": "one", "user_id": 1}
            )

    with pytest.raises(InvalidEvent, match="todo_id"):
        change_with_a_malformed_event()

    assert Todo.objects.count() == 0
