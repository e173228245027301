"""Writes: handling an event, delivering its email exactly once in effect, preferences.

Celery delivers a message at least once (``acks_late``: again after a
crash, a lost connection or a duplicate publish). These functions make that
*effectively once*:

1. :func:`notification_record` inserts the notification under the unique
   ``event_id``: a second delivery finds the first one's row.
2. :func:`notification_deliver` claims the row with one conditional
   ``UPDATE`` (``pending`` -> ``sending``, or a ``sending`` row whose lease ran
   out because its worker died); only the claimer talks to SMTP, then marks
   it ``sent``.

The one window left: a worker that dies after the SMTP server accepted the
message but before ``sent`` is written. After the lease the event is claimed
and sent again, with the same ``Message-ID`` (``<event id>@notification-service``),
so mail systems and clients that de-duplicate by Message-ID drop the copy.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from notifications import emails
from notifications.erasure import ACCOUNT_BEING_DELETED, ACCOUNT_DELETED, AccountBeingDeleted
from notifications.events import (
    TODO_COMPLETED,
    USER_REGISTERED,
    Event,
    InvalidEvent,
    event_key,
    event_type_of,
    parse,
)
from notifications.integrations import users
from notifications.models import Notification, Preference, ProcessedEvent
from notifications.selectors import account_deleted, erasing_saga, preference_get

logger = logging.getLogger(__name__)
Status = Notification.Status

# The task that delivers one notification (notifications/tasks.py registers it under
# this name). Services queue it by name: tasks call services, never the other way.
DELIVER_TASK = "notification.deliver"


class DeliveryDeferred(Exception):
    """A transient failure: the notification stays ``pending`` and a retry should follow."""

    def __init__(self, notification_id: int, reason: str) -> None:
        # Both in args: Celery pickles the exception for on_failure and rebuilds it from args.
        super().__init__(notification_id, reason)
        self.notification_id = notification_id
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


# --- events -------------------------------------------------------------------


def event_handle(*, envelope: Any) -> Notification | ProcessedEvent | None:
    """Handle one delivery of an event; safe to call any number of times per event."""
    try:
        event = parse(envelope)
    except InvalidEvent as exc:
        # Retrying cannot repair a broken message: record it once, acknowledge it.
        logger.warning(
            "event_rejected", extra={"event_id": event_key(envelope), "reason": str(exc)}
        )
        return processed_event_record(
            envelope=envelope, outcome=ProcessedEvent.Outcome.FAILED, reason=str(exc)
        )
    if not event.consumed:
        logger.info("event_ignored", extra={"event_id": event.id, "event_type": event.type})
        return processed_event_record(
            envelope=envelope,
            outcome=ProcessedEvent.Outcome.IGNORED,
            reason=f"{envelope['dataschema']} is not consumed by notification-service",
        )
    notification = notification_record(event=event, envelope=envelope)
    if isinstance(notification, ProcessedEvent):
        return notification
    return _deliver(notification)


def processed_event_record(
    *, envelope: Any, outcome: ProcessedEvent.Outcome, reason: str
) -> ProcessedEvent:
    processed, _ = ProcessedEvent.objects.get_or_create(
        event_id=event_key(envelope),
        defaults={
            "event_type": event_type_of(envelope),
            "outcome": outcome,
            "reason": reason,
            "envelope": envelope,
        },
    )
    return processed


def notification_record(*, event: Event, envelope: dict[str, Any]) -> Notification | ProcessedEvent:
    """The event's notification, created on its first delivery (or a stale-event record)."""
    existing = Notification.objects.filter(event_id=event.id).first()
    if existing is not None:
        return existing
    if event.version is not None and _newer_version_seen(event):
        logger.info("event_stale", extra={"event_id": event.id, "version": event.version})
        return processed_event_record(
            envelope=envelope,
            outcome=ProcessedEvent.Outcome.IGNORED,
            reason=f"stale: a newer version of {event.subject} than {event.version} was handled",
        )
    if account_deleted(user_id=event.user_id):
        # An event that was on its way while the account was deleted (a redelivery,
        # a message that waited out an outage): nothing of the account may come back.
        return processed_event_record(
            envelope=envelope, outcome=ProcessedEvent.Outcome.IGNORED, reason=ACCOUNT_DELETED
        )
    status, reason = Status.PENDING, ""
    # An account being deleted gets no email; the record is hidden with the rest.
    erasing = erasing_saga(user_id=event.user_id)
    if erasing is not None:
        status, reason = Status.SKIPPED, ACCOUNT_BEING_DELETED
    elif (
        event.type == TODO_COMPLETED
        and not preference_get(user_id=event.user_id).email_on_todo_completed
    ):
        status, reason = Status.SKIPPED, "the user turned off email on completed todos"
    try:
        # The unique event_id decides, inside this insert's transaction, which
        # of several concurrent deliveries records the event; the others read it.
        with transaction.atomic():
            return Notification.objects.create(
                event_id=event.id,
                event_type=event.type,
                envelope=envelope,
                user_id=event.user_id,
                recipient=event.data.get("email", "") if event.type == USER_REGISTERED else "",
                subject=emails.render_subject(event_type=event.type, data=event.data),
                status=status,
                last_error=reason,
                resource=event.subject,
                resource_version=event.version,
                erased_by_saga=erasing,
            )
    except IntegrityError:
        return Notification.objects.get(event_id=event.id)


def _newer_version_seen(event: Event) -> bool:
    return Notification.objects.filter(
        event_type=event.type, resource=event.subject, resource_version__gte=event.version
    ).exists()


# --- delivery -----------------------------------------------------------------


def notification_deliver(*, notification_id: int) -> Notification:
    """Send the notification's email unless it is sent, being sent, skipped or failed."""
    return _deliver(Notification.objects.get(id=notification_id))


def _deliver(notification: Notification) -> Notification:
    notification_id = notification.id
    if notification.status not in (Status.PENDING, Status.SENDING):
        return notification
    if notification.erased_by_saga is not None:
        return _finish(notification_id, Status.SKIPPED, error=ACCOUNT_BEING_DELETED, claimed=False)
    # Resolve the address before claiming, so that "sending" covers only the
    # SMTP conversation (the window in which a crash can duplicate an email).
    try:
        recipient = _recipient(notification)
    except users.UserServiceUnavailable as exc:
        _release(notification_id, error=str(exc), claimed=False)
        raise DeliveryDeferred(notification_id, str(exc)) from exc
    except users.UserNotFound as exc:
        return _finish(notification_id, Status.FAILED, error=str(exc), claimed=False)
    if not recipient:
        error = "the user has no active email address"
        return _finish(notification_id, Status.SKIPPED, error=error, claimed=False)
    if not _claim(notification, recipient=recipient):
        notification.refresh_from_db()
        if notification.status == Status.SENDING:
            # Another worker holds it: it finishes, or its lease runs out; look again later.
            raise DeliveryDeferred(notification_id, "another worker is sending it")
        return notification
    try:
        emails.send(emails.build_message(notification=notification, recipient=recipient))
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        if _is_permanent(exc):
            return _finish(notification_id, Status.FAILED, error=error, claimed=True)
        _release(notification_id, error=error, claimed=True)
        raise DeliveryDeferred(notification_id, error) from exc
    sent = {"status": Status.SENT, "sent_at": timezone.now(), "last_error": ""}
    Notification.objects.filter(id=notification_id, status=Status.SENDING).update(**sent)
    logger.info(
        "notification_sent",
        extra={"notification_id": notification_id, "event_id": notification.event_id},
    )
    _set(notification, sent)  # what the update wrote, without reading the row again
    return notification


def notification_fail(*, notification_id: int, error: str) -> None:
    """Retries are exhausted: ``failed`` with the last error (unless it got sent meanwhile)."""
    updated = Notification.objects.filter(id=notification_id, status=Status.PENDING).update(
        status=Status.FAILED, last_error=error
    )
    if updated:
        logger.error(
            "notification_failed", extra={"notification_id": notification_id, "error": error}
        )


def notification_resend(*, notification_ids: Iterable[int]) -> int:
    """Put failed notifications back to ``pending`` and queue their delivery (admin action)."""
    # The worker's Celery app (broker, routes), loaded on first use: web processes
    # need it only for this admin action.
    from config.celery import app

    with transaction.atomic():
        ids = list(
            Notification.objects.select_for_update()
            .filter(id__in=list(notification_ids), status=Status.FAILED)
            .values_list("id", flat=True)
        )
        Notification.objects.filter(id__in=ids).update(status=Status.PENDING, last_error="")
        for notification_id in ids:
            task = app.signature(DELIVER_TASK, args=(notification_id,))
            transaction.on_commit(task.delay)
    return len(ids)


def _recipient(notification: Notification) -> str:
    """The address to send to, or "" when the user has none that may be used."""
    if notification.event_type == USER_REGISTERED:
        return notification.recipient
    contact = users.user_contact(notification.user_id)
    return contact.email if contact.is_active else ""


def _claim(notification: Notification, *, recipient: str) -> bool:
    """Atomically make this worker the only one sending; a dead worker's claim expires.

    On success ``notification`` holds what the claim wrote (the row is not read again).
    """
    now = timezone.now()
    lease_expired = now - timedelta(seconds=settings.NOTIFICATION_CLAIM_LEASE_SECONDS)
    claimable = Q(status=Status.PENDING) | Q(status=Status.SENDING, claimed_at__lt=lease_expired)
    claimed = Notification.objects.filter(
        claimable, id=notification.id, erased_by_saga=None
    ).update(status=Status.SENDING, claimed_at=now, recipient=recipient, attempts=F("attempts") + 1)
    if claimed:
        attempts = notification.attempts + 1
        _set(notification, {"status": Status.SENDING, "claimed_at": now, "recipient": recipient})
        notification.attempts = attempts
    return bool(claimed)


def _set(notification: Notification, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(notification, name, value)


def _release(notification_id: int, *, error: str, claimed: bool) -> None:
    """Back to ``pending`` with the error, for the next attempt."""
    rows = Notification.objects.filter(
        id=notification_id, status=Status.SENDING if claimed else Status.PENDING
    )
    changes: dict[str, Any] = {"status": Status.PENDING, "last_error": error, "claimed_at": None}
    if not claimed:
        changes["attempts"] = F("attempts") + 1
    rows.update(**changes)
    logger.warning(
        "notification_deferred", extra={"notification_id": notification_id, "error": error}
    )


def _finish(notification_id: int, status: Status, *, error: str, claimed: bool) -> Notification:
    """A final outcome other than ``sent``; only the claimer may change a ``sending`` row."""
    Notification.objects.filter(
        id=notification_id, status=Status.SENDING if claimed else Status.PENDING
    ).update(status=status, last_error=error)
    logger.warning(
        "notification_finished",
        extra={"notification_id": notification_id, "status": status, "error": error},
    )
    return Notification.objects.get(id=notification_id)


def _is_permanent(exc: Exception) -> bool:
    """SMTP's 5xx replies say "do not retry this message" (4xx and network errors do not)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


# --- preferences ----------------------------------------------------------------


def preference_update(*, user_id: int, email_on_todo_completed: bool) -> Preference:
    if erasing_saga(user_id=user_id) is not None:
        raise AccountBeingDeleted()
    preference, _ = Preference.objects.update_or_create(
        user_id=user_id, defaults={"email_on_todo_completed": email_on_todo_completed}
    )
    return preference
