"""What one saga did to one user's data in this service, keyed by the saga id."""

from __future__ import annotations

from django.db import models


class ErasureStatus(models.TextChoices):
    ERASED = "erased"
    RESTORED = "restored"
    PURGED = "purged"


class AbstractErasure(models.Model):
    """One account-deletion saga's effect on this service.

    Keeping it makes every step idempotent: a repeated erase, restore or purge
    finds the row and answers as the first call did. A concrete model adds one
    ``PositiveIntegerField(default=0)`` per kind of data it counts (``todos``;
    ``notifications`` and ``preferences``): how many rows the last step hid,
    brought back or deleted.
    """

    Status = ErasureStatus

    saga_id = models.UUIDField(primary_key=True)
    user_id = models.BigIntegerField(db_index=True)
    status = models.CharField(max_length=10, choices=ErasureStatus.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"saga {self.saga_id}: user {self.user_id} {self.status}"
