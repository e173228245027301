"""``/internal/users/{id}/{erase|restore|purge}``: the account-deletion saga's calls
(service tokens with scope ``todos:erase`` only; see :mod:`servicekit.saga.apis`)."""

from __future__ import annotations

from servicekit.saga.apis import SagaStepApi
from servicekit.saga.openapi import document_saga_step

from todos import erasure
from todos.serializers import ErasureSerializer

ERASE_SCOPE = "todos:erase"


@document_saga_step(ErasureSerializer)
class UserTodosSagaApi(SagaStepApi):
    """Account deletion: erase hides all of the user's todos, restore (the compensation)
    brings them back, purge (after the account is deleted) deletes them for good.
    Idempotent by saga id; 409 ``saga_conflict`` when a step contradicts an earlier one."""

    required_scope = ERASE_SCOPE
    participant = erasure.participant
    output_serializer_class = ErasureSerializer
