from __future__ import annotations

import uuid

from sagas.models import Saga


def saga_get(*, saga_id: uuid.UUID, kind: str) -> Saga | None:
    """The saga with its steps in order (two queries), or None."""
    return Saga.objects.filter(pk=saga_id, kind=kind).prefetch_related("steps").first()
