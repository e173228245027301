"""What notification-service keeps: notifications, per-user preferences, processed events,
and the erasures of the account-deletion saga.

A :class:`Notification` exists once per event that should produce an email:
its ``event_id`` is unique, so an event delivered twice (Celery's delivery is
at-least-once) finds the row the first delivery wrote instead of a second one.
Events that produce no email (unknown types, stale versions, invalid
envelopes) leave a :class:`ProcessedEvent` instead, for the admin and for
idempotency.
"""

from django.db import models
from servicekit.saga.models import AbstractErasure


class Notification(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"  # recorded, not sent yet (or waiting for a retry)
        SENDING = "sending"  # claimed by one worker, which is talking to SMTP now
        SENT = "sent"
        FAILED = "failed"  # retries exhausted, or a permanent error; an operator may re-send
        SKIPPED = "skipped"  # the user opted out, or has no usable address

    class Channel(models.TextChoices):
        EMAIL = "email"

    event_id = models.CharField(max_length=255, unique=True)
    event_type = models.CharField(max_length=100)
    # The CloudEvents envelope as received: what a retry or a re-send renders from.
    envelope = models.JSONField()
    user_id = models.BigIntegerField()
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.EMAIL)
    recipient = models.EmailField(max_length=254, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # What the event is about ("todos/42") and the producer's version of it, if
    # it sends one: an older event arriving after a newer one is ignored.
    resource = models.CharField(max_length=255, blank=True)
    resource_version = models.BigIntegerField(null=True, blank=True)
    # Set while an account-deletion saga hides the notification (restore clears it).
    erased_by_saga = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user_id", "-created_at"], name="notification_user_recent"),
            models.Index(fields=["status"], name="notification_status"),
            models.Index(fields=["resource", "resource_version"], name="notification_resource"),
            models.Index(fields=["erased_by_saga"], name="notification_erased_saga"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} for user {self.user_id} ({self.status})"

    @property
    def message_id(self) -> str:
        """The email's ``Message-ID``: the same for every attempt, so mail systems drop copies."""
        return f"<{self.event_id}@notification-service>"


class Preference(models.Model):
    user_id = models.BigIntegerField(unique=True)
    email_on_todo_completed = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Set while an account-deletion saga hides the preferences (restore clears it).
    erased_by_saga = models.UUIDField(null=True, blank=True, db_index=True)

    def __str__(self) -> str:
        return f"preferences of user {self.user_id}"


class ProcessedEvent(models.Model):
    """An event handled without an email: acknowledged, recorded, never handled again."""

    class Outcome(models.TextChoices):
        # a type this service does not consume, a stale version, or a deleted account
        IGNORED = "ignored"
        FAILED = "failed"  # the envelope or its data broke the contract

    # The envelope's id; for an envelope without a usable id, a digest of its content.
    event_id = models.CharField(max_length=255, unique=True)
    event_type = models.CharField(max_length=100, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.TextField()
    envelope = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_type or 'event'} {self.event_id} ({self.outcome})"


class Erasure(AbstractErasure):
    """One account-deletion saga's effect here (see :mod:`notifications.erasure`)."""

    # How many rows of each kind the saga's last step hid, brought back or deleted.
    notifications = models.PositiveIntegerField(default=0)
    preferences = models.PositiveIntegerField(default=0)
