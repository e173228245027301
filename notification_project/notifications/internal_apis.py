"""``/internal/users/{id}/{erase|restore|purge}``: the account-deletion saga's calls
(service tokens with scope ``notifications:erase`` only; see :mod:`servicekit.saga.apis`)."""

from __future__ import annotations

from servicekit.saga.apis import SagaStepApi
from servicekit.saga.openapi import document_saga_step

from notifications import erasure
from notifications.serializers import ErasureSerializer

ERASE_SCOPE = "notifications:erase"


@document_saga_step(ErasureSerializer)
class UserNotificationsSagaApi(SagaStepApi):
    """Account deletion: erase hides the user's notifications and preferences (and stops
    their emails), restore (the compensation) brings them back, purge (after the account
    is deleted) deletes them for good. Idempotent by saga id; 409 ``saga_conflict`` when
    a step contradicts an earlier one."""

    required_scope = ERASE_SCOPE
    participant = erasure.participant
    output_serializer_class = ErasureSerializer
