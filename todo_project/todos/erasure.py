"""todo-service's part in the account-deletion saga (user-service orchestrates).

- erase: hide the user's todos (archive them); compensation: restore them.
- purge: after the saga's pivot (the account is gone), delete what was archived.

Each step is idempotent by saga id: the :class:`~todos.models.Erasure` row
records what happened, and a repeated call answers from it. A restore that
arrives before its erase (the erase call timed out and was never carried out)
is recorded too, so that erase, should it still arrive, cannot hide the todos
of a saga that was already compensated.

No todo events are emitted: archived todos are not deleted by their owner,
and consumers have no use for them.
"""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone
from servicekit.exceptions import Conflict

from todos.models import Erasure, IdempotencyKey, Todo

Status = Erasure.Status


class SagaConflict(Conflict):
    default_code = "saga_conflict"


@transaction.atomic
def user_todos_erase(*, user_id: int, saga_id: uuid.UUID) -> Erasure:
    erasure, created = _claim(user_id=user_id, saga_id=saga_id, status=Status.ERASED)
    if not created:
        return _repeat(erasure, status=Status.ERASED)
    erasure.todos = (
        Todo.objects.visible()
        .filter(user_id=user_id)
        .update(archived_at=timezone.now(), archived_by_saga=saga_id)
    )
    erasure.save(update_fields=["todos", "updated_at"])
    return erasure


@transaction.atomic
def user_todos_restore(*, user_id: int, saga_id: uuid.UUID) -> Erasure:
    erasure, created = _claim(user_id=user_id, saga_id=saga_id, status=Status.RESTORED)
    if created:
        return erasure  # nothing was erased under this saga; now nothing will be
    if erasure.status == Status.PURGED:
        raise SagaConflict(f"Saga {saga_id} already purged the todos; they cannot be restored.")
    if erasure.status == Status.ERASED:
        erasure.todos = Todo.objects.filter(archived_by_saga=saga_id).update(
            archived_at=None, archived_by_saga=None
        )
        erasure.status = Status.RESTORED
        erasure.save(update_fields=["todos", "status", "updated_at"])
    return erasure


@transaction.atomic
def user_todos_purge(*, user_id: int, saga_id: uuid.UUID) -> Erasure:
    erasure = Erasure.objects.select_for_update().filter(saga_id=saga_id).first()
    if erasure is None:
        raise SagaConflict(f"Saga {saga_id} erased nothing here; erase comes before purge.")
    _check_user(erasure, user_id)
    if erasure.status == Status.RESTORED:
        raise SagaConflict(f"Saga {saga_id} was compensated (todos restored); nothing to purge.")
    if erasure.status == Status.ERASED:
        Todo.objects.filter(archived_by_saga=saga_id).delete()
        # Stored responses hold todo titles: personal data goes with the account.
        IdempotencyKey.objects.filter(user_id=user_id).delete()
        erasure.status = Status.PURGED
        erasure.save(update_fields=["status", "updated_at"])
    return erasure


def _claim(*, user_id: int, saga_id: uuid.UUID, status: str) -> tuple[Erasure, bool]:
    """Insert the saga's row, or lock and return the existing one (a concurrent call's)."""
    try:
        with transaction.atomic():
            return Erasure.objects.create(saga_id=saga_id, user_id=user_id, status=status), True
    except IntegrityError:
        erasure = Erasure.objects.select_for_update().get(saga_id=saga_id)
        _check_user(erasure, user_id)
        return erasure, False


def _repeat(erasure: Erasure, *, status: str) -> Erasure:
    if erasure.status != status:
        raise SagaConflict(
            f"Saga {erasure.saga_id} is already {erasure.status}; it cannot be {status} now."
        )
    return erasure


def _check_user(erasure: Erasure, user_id: int) -> None:
    if erasure.user_id != user_id:
        raise SagaConflict(f"Saga {erasure.saga_id} belongs to another user.")
