from __future__ import annotations

from django.db import models

from servicekit.saga.models import AbstractErasure


class Note(models.Model):
    user_id = models.BigIntegerField()
    text = models.CharField(max_length=100)
    hidden_by_saga = models.UUIDField(null=True, blank=True)

    def __str__(self) -> str:
        return self.text


class Erasure(AbstractErasure):
    notes = models.PositiveIntegerField(default=0)
