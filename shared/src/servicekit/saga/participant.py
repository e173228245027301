"""The participant's state machine: erase, restore (compensation), purge.

::

    (none) --erase--> erased --purge--> purged
       |                 |
       +----restore------+--restore--> restored

Every step is idempotent by saga id: the erasure row records what happened,
and a repeated call answers from it. A restore that arrives before its erase
(the erase call timed out and was never carried out) is recorded too, so that
the erase, should it still arrive, cannot hide the data of a saga that was
already compensated. A step that contradicts what happened (purge after
restore, restore after purge, erase after restore, another user's saga id)
is a 409 :class:`SagaConflict`.

The service's own effects do the work, inside the step's transaction:
``hide`` (erase), ``unhide`` (restore) and ``delete`` (purge), each called with
``user_id`` and ``saga_id`` and returning how many rows of each kind it
touched, ``{"todos": 3}``. Those counts are stored on the erasure row in the
fields of the same names.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Generic, Literal, Protocol, TypeVar

from django.db import IntegrityError, transaction

from servicekit.exceptions import Conflict
from servicekit.saga.models import AbstractErasure, ErasureStatus

E = TypeVar("E", bound=AbstractErasure)
Step = Literal["erase", "restore", "purge"]
STEPS: tuple[Step, ...] = ("erase", "restore", "purge")
Counts = Mapping[str, int]


class Effect(Protocol):
    def __call__(self, *, user_id: int, saga_id: uuid.UUID) -> Counts: ...


class SagaConflict(Conflict):
    default_code = "saga_conflict"


class SagaParticipant(Generic[E]):
    """The three steps over ``model``; ``data`` names what is erased, for messages."""

    def __init__(
        self, model: type[E], *, data: str, hide: Effect, unhide: Effect, delete: Effect
    ) -> None:
        self.model = model
        self.data = data
        self.hide = hide
        self.unhide = unhide
        self.delete = delete

    def run(self, step: Step, *, user_id: int, saga_id: uuid.UUID) -> E:
        method = {"erase": self.erase, "restore": self.restore, "purge": self.purge}[step]
        return method(user_id=user_id, saga_id=saga_id)

    @transaction.atomic
    def erase(self, *, user_id: int, saga_id: uuid.UUID) -> E:
        erasure, created = self._claim(
            user_id=user_id, saga_id=saga_id, status=ErasureStatus.ERASED
        )
        if not created:
            if erasure.status != ErasureStatus.ERASED:
                raise SagaConflict(
                    f"Saga {saga_id} is already {erasure.status}; it cannot be erased now."
                )
            return erasure
        self._record(erasure, self.hide(user_id=user_id, saga_id=saga_id))
        return erasure

    @transaction.atomic
    def restore(self, *, user_id: int, saga_id: uuid.UUID) -> E:
        erasure, created = self._claim(
            user_id=user_id, saga_id=saga_id, status=ErasureStatus.RESTORED
        )
        if created:
            return erasure  # nothing was erased under this saga; now nothing will be
        if erasure.status == ErasureStatus.PURGED:
            raise SagaConflict(
                f"Saga {saga_id} already purged the {self.data}; they cannot be restored."
            )
        if erasure.status == ErasureStatus.ERASED:
            counts = self.unhide(user_id=user_id, saga_id=saga_id)
            self._record(erasure, counts, status=ErasureStatus.RESTORED)
        return erasure

    @transaction.atomic
    def purge(self, *, user_id: int, saga_id: uuid.UUID) -> E:
        erasure = self.model._default_manager.select_for_update().filter(saga_id=saga_id).first()
        if erasure is None:
            raise SagaConflict(f"Saga {saga_id} erased nothing here; erase comes before purge.")
        self._check_user(erasure, user_id)
        if erasure.status == ErasureStatus.RESTORED:
            raise SagaConflict(
                f"Saga {saga_id} was compensated ({self.data} restored); nothing to purge."
            )
        if erasure.status == ErasureStatus.ERASED:
            counts = self.delete(user_id=user_id, saga_id=saga_id)
            self._record(erasure, counts, status=ErasureStatus.PURGED)
        return erasure

    def _claim(self, *, user_id: int, saga_id: uuid.UUID, status: str) -> tuple[E, bool]:
        """Insert the saga's row, or lock and return the existing one (a concurrent call's)."""
        manager = self.model._default_manager
        try:
            with transaction.atomic():
                return manager.create(saga_id=saga_id, user_id=user_id, status=status), True
        except IntegrityError:
            erasure = manager.select_for_update().get(saga_id=saga_id)
            self._check_user(erasure, user_id)
            return erasure, False

    @staticmethod
    def _check_user(erasure: E, user_id: int) -> None:
        if erasure.user_id != user_id:
            raise SagaConflict(f"Saga {erasure.saga_id} belongs to another user.")

    @staticmethod
    def _record(erasure: E, counts: Counts, *, status: str | None = None) -> None:
        """Store the effect's counts (and the new status); a count without a field is an error."""
        for kind, count in counts.items():
            setattr(erasure, kind, count)
        fields = [*counts, "updated_at"]
        if status is not None:
            erasure.status = status
            fields.append("status")
        erasure.save(update_fields=fields)
