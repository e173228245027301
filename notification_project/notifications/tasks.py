"""Celery tasks: each hands its argument to one service and owns the retry policy.

Producers publish ``notification.handle_event`` by name with the event
envelope as the only argument (docs/spec/events.md, "Transport"); the admin's
re-send queues ``notification.deliver`` with a notification id.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError
from servicekit import tracing
from servicekit.events import receipts

from config.celery import app
from notifications import services

logger = logging.getLogger(__name__)


class NotificationTask(Task):
    """Retries transient failures with exponential backoff and full jitter, a bounded number
    of times; when they are exhausted the notification is marked ``failed`` (Redis has no
    dead-letter queue, so the consumer writes its own record)."""

    # Transient: SMTP or user-service trouble (DeliveryDeferred), a database blip, or an
    # attempt stopped by CELERY_TASK_SOFT_TIME_LIMIT (a mail server that hangs). A claim
    # such an attempt left behind is taken over after NOTIFICATION_CLAIM_LEASE_SECONDS.
    autoretry_for = (
        services.DeliveryDeferred,
        OperationalError,
        InterfaceError,
        SoftTimeLimitExceeded,
    )
    retry_backoff = 1  # seconds before the first retry; doubling after each one
    retry_backoff_max = settings.NOTIFICATION_RETRY_BACKOFF_MAX
    retry_jitter = True
    max_retries = settings.NOTIFICATION_MAX_RETRIES
    acks_late = True
    reject_on_worker_lost = True

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        if isinstance(exc, services.DeliveryDeferred):
            services.notification_fail(notification_id=exc.notification_id, error=exc.reason)
            if self.name == handle_event.name and args:
                _confirm(args[0])  # handled for good: recorded as failed


@app.task(name="notification.handle_event", base=NotificationTask)
def handle_event(envelope: Any) -> None:
    # A worker has the event: from here on Celery keeps it until it is handled (the
    # unacknowledged message, the retries). Tell the producer's relay, so that it does
    # not take an event that is slow to handle (a mail server down) for a lost one.
    _accept(envelope)
    # The trace of the request that caused the event goes on here (tracing on).
    event = envelope if isinstance(envelope, dict) else {}
    with tracing.span(
        f"handle {event.get('type', 'event')}",
        traceparent=event.get("traceparent"),
        kind="consumer",
        attributes={"messaging.message.id": str(event.get("id", ""))},
    ):
        services.event_handle(envelope=envelope)
    # Its outcome is recorded (sent, skipped, ignored or failed): tell the producer's
    # relay not to publish it again. Until then it may, and this task skips the copy.
    _confirm(envelope)


def _accept(envelope: Any) -> None:
    if event_id := _event_id(envelope):
        receipts.accept(event_id)


def _confirm(envelope: Any) -> None:
    if event_id := _event_id(envelope):
        receipts.confirm(event_id)


def _event_id(envelope: Any) -> str | None:
    event_id = envelope.get("id") if isinstance(envelope, dict) else None
    return event_id if isinstance(event_id, str) else None


@app.task(name=services.DELIVER_TASK, base=NotificationTask)
def deliver(notification_id: int) -> None:
    services.notification_deliver(notification_id=notification_id)
