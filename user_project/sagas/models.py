"""Persisted sagas: one row per instance, one row per step attempt sequence.

Every state change is written before the next thing happens, so a worker that
dies at any point leaves a saga another worker can pick up where it stopped
(see :mod:`sagas.engine`).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


class Saga(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"  # forward steps being carried out
        COMPENSATING = "compensating"  # undoing what was done, in reverse order
        COMPLETED = "completed"  # every forward step succeeded
        FAILED = "failed"  # compensated: nothing of it is left

    ACTIVE = (Status.RUNNING, Status.COMPENSATING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=50)
    # Not a foreign key: the account-deletion saga deletes the user it is about.
    user_id = models.BigIntegerField(db_index=True)
    username = models.CharField(max_length=150, blank=True)
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.RUNNING)
    # Why it is compensating or failed, or why it waits for an operator.
    reason = models.TextField(blank=True)
    # An operator asked for compensation; the engine does it at the next step boundary.
    compensation_requested = models.BooleanField(default=False)
    # When a worker should run it next (None: finished, or stuck until an operator acts).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The worker running it now, and until when that claim holds.
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="saga_due")]
        constraints = [
            # One deletion at a time per account: a second request gets the first saga.
            models.UniqueConstraint(
                fields=["kind", "user_id"],
                condition=Q(status__in=["running", "compensating"]),
                name="saga_one_active_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def waits_for_operator(self) -> bool:
        """A step was refused for good where the saga cannot give up (see sagas.engine)."""
        return self.is_active and self.next_attempt_at is None


class SagaStep(models.Model):
    class Direction(models.TextChoices):
        FORWARD = "forward"
        COMPENSATION = "compensation"

    class Status(models.TextChoices):
        PENDING = "pending"  # not tried yet, or waiting for its next attempt
        RUNNING = "running"  # an attempt started; a crash leaves it so
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # given up: out of retry budget, or refused for good
        SKIPPED = "skipped"  # never run: the saga compensated before reaching it

    saga = models.ForeignKey(Saga, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=50)
    direction = models.CharField(max_length=12, choices=Direction.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    # Whether an attempt may have reached the participant: a step that failed
    # without ever reaching it has nothing to undo.
    reached = models.BooleanField(default=False)
    last_error = models.TextField(blank=True)
    first_attempted_at = models.DateTimeField(null=True, blank=True)
    last_attempted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["saga", "position"]
        constraints = [
            models.UniqueConstraint(fields=["saga", "position"], name="saga_step_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name} ({self.status})"

    @property
    def duration_ms(self) -> int | None:
        if self.first_attempted_at is None or self.finished_at is None:
            return None
        return round((self.finished_at - self.first_attempted_at).total_seconds() * 1000)
