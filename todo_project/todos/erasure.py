"""todo-service's part in the account-deletion saga (user-service orchestrates).

- erase: hide the user's todos (archive them); compensation: restore them.
- purge: after the saga's pivot (the account is gone), delete what was archived.

The state machine (idempotency by saga id, restore-before-erase, conflicts)
is servicekit's :class:`~servicekit.saga.participant.SagaParticipant`; these
are todo-service's effects. No todo events are emitted: archived todos are
not deleted by their owner, and consumers have no use for them.
"""

from __future__ import annotations

import uuid

from django.utils import timezone
from servicekit.saga.participant import Counts, SagaParticipant

from todos.models import Erasure, IdempotencyKey, Todo


def _archive(*, user_id: int, saga_id: uuid.UUID) -> Counts:
    archived = (
        Todo.objects.visible()
        .filter(user_id=user_id)
        .update(archived_at=timezone.now(), archived_by_saga=saga_id)
    )
    return {"todos": archived}


def _unarchive(*, user_id: int, saga_id: uuid.UUID) -> Counts:
    restored = Todo.objects.filter(archived_by_saga=saga_id).update(
        archived_at=None, archived_by_saga=None
    )
    return {"todos": restored}


def _delete(*, user_id: int, saga_id: uuid.UUID) -> Counts:
    deleted, _ = Todo.objects.filter(archived_by_saga=saga_id).delete()
    # Stored responses hold todo titles: personal data goes with the account.
    IdempotencyKey.objects.filter(user_id=user_id).delete()
    return {"todos": deleted}


participant = SagaParticipant(
    Erasure, data="todos", hide=_archive, unhide=_unarchive, delete=_delete
)
user_todos_erase = participant.erase
user_todos_restore = participant.restore
user_todos_purge = participant.purge
