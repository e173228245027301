"""One row per event, written in the transaction of the change that caused it."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from servicekit.settings import servicekit_settings


class OutboxMessageManager(models.Manager["OutboxMessage"]):
    def pending(self) -> models.QuerySet[OutboxMessage]:
        return self.filter(published_at__isnull=True)

    def published(self) -> models.QuerySet[OutboxMessage]:
        return self.filter(published_at__isnull=False)

    def unconfirmed(self) -> models.QuerySet[OutboxMessage]:
        """Published, and no receipt from the consumer seen yet."""
        return self.filter(published_at__isnull=False, delivered_at__isnull=True)


class OutboxMessage(models.Model):
    # The envelope's id: the consumers' idempotency key, unique here as well.
    event_id = models.UUIDField(unique=True, editable=False)
    event_type = models.CharField(max_length=100)
    subject = models.CharField(max_length=200)
    envelope = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # Failed publish attempts and the last error, for the admin.
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # How often it was handed to the broker; more than once when no receipt came in time.
    deliveries = models.PositiveIntegerField(default=0)
    # When the relay saw the consumer's receipts (servicekit.events.receipts): that
    # the consumer has recorded the event and is on it, and that it is done with it.
    accepted_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = OutboxMessageManager()

    class Meta:
        db_table = "outbox_message"
        ordering = ["id"]
        indexes = [
            # The relay's query ("unpublished, oldest first") reads only this
            # small partial index, however many published rows are kept.
            models.Index(
                fields=["id"], name="outbox_pending_idx", condition=Q(published_at__isnull=True)
            ),
            # Pruning deletes published rows by age.
            models.Index(fields=["published_at"], name="outbox_published_idx"),
            # The relay's receipt check reads only the rows still waiting for one.
            models.Index(
                fields=["published_at"],
                name="outbox_unconfirmed_idx",
                condition=Q(published_at__isnull=False, delivered_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.subject} ({self.state})"

    @property
    def state(self) -> str:
        if self.delivered_at:
            return "delivered"
        if not self.published_at:
            return "pending"
        if self.deliveries >= servicekit_settings.OUTBOX_MAX_DELIVERIES:
            return "undelivered"  # published again and again, never confirmed: see to it
        if self.accepted_at:
            return "accepted"
        return "published"

    def as_envelope(self) -> dict[str, Any]:
        return dict(self.envelope)
