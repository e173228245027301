"""The service side of the tiny participant: effects, serializer, view."""

from __future__ import annotations

import uuid

from saga_app.models import Erasure, Note
from servicekit.saga.apis import SagaStepApi
from servicekit.saga.openapi import document_saga_step
from servicekit.saga.participant import Counts, SagaParticipant
from servicekit.saga.serializers import ErasureSerializer

SCOPE = "notes:erase"


def hide(*, user_id: int, saga_id: uuid.UUID) -> Counts:
    notes = Note.objects.filter(user_id=user_id, hidden_by_saga__isnull=True)
    return {"notes": notes.update(hidden_by_saga=saga_id)}


def unhide(*, user_id: int, saga_id: uuid.UUID) -> Counts:
    return {"notes": Note.objects.filter(hidden_by_saga=saga_id).update(hidden_by_saga=None)}


def delete(*, user_id: int, saga_id: uuid.UUID) -> Counts:
    deleted, _ = Note.objects.filter(hidden_by_saga=saga_id).delete()
    return {"notes": deleted}


participant = SagaParticipant(Erasure, data="notes", hide=hide, unhide=unhide, delete=delete)


class NoteErasureSerializer(ErasureSerializer):
    class Meta(ErasureSerializer.Meta):
        model = Erasure
        fields = [*ErasureSerializer.Meta.fields, "notes"]
        read_only_fields = fields


@document_saga_step(NoteErasureSerializer)
class NotesSagaApi(SagaStepApi):
    required_scope = SCOPE
    participant = participant
    output_serializer_class = NoteErasureSerializer
