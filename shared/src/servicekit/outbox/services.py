"""Writing events to the outbox, waking the relay, and the operators' actions."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import cache
from typing import Any

import redis
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from servicekit import events
from servicekit.outbox.models import OutboxMessage
from servicekit.settings import servicekit_settings

logger = logging.getLogger(__name__)


class OutsideTransaction(RuntimeError):
    """``emit_event`` was called outside ``transaction.atomic``: that is not an outbox."""


def emit_event(
    *, event_type: str, subject: str, data: dict[str, Any], version: int = 1, using: str = "default"
) -> OutboxMessage:
    """Write an event to the outbox, in the caller's transaction.

    The envelope is validated against its schema first (:class:`events.InvalidEvent`
    rolls the whole change back: better no change than an event consumers
    cannot read). Once the transaction commits, the relay is woken up.
    """
    if not transaction.get_connection(using).in_atomic_block:
        raise OutsideTransaction(
            "emit_event() must run inside transaction.atomic(), with the change it announces"
        )
    envelope = events.build_envelope(
        event_type=event_type,
        source=servicekit_settings.SERVICE_NAME,
        subject=subject,
        data=data,
        version=version,
    )
    events.validate(envelope)
    message = OutboxMessage.objects.using(using).create(
        event_id=envelope["id"], event_type=event_type, subject=subject, envelope=envelope
    )
    transaction.on_commit(wake_relay, using=using)
    return message


def wake_key() -> str:
    """The Redis list the relay waits on; per service, since services share one Redis."""
    return f"outbox:wake:{servicekit_settings.SERVICE_NAME}"


@cache
def _wake_client(url: str) -> redis.Redis:
    # Short timeouts: a commit must never wait long for a hint the sweep also covers.
    return redis.Redis.from_url(url, socket_connect_timeout=0.25, socket_timeout=0.25)


def wake_relay() -> None:
    """Tell a waiting relay there is work. Best effort: if Redis is down, the sweep finds it."""
    url = servicekit_settings.REDIS_URL
    if not url:
        return
    try:
        pipe = _wake_client(url).pipeline(transaction=False)
        pipe.lpush(wake_key(), 1)
        # A burst of commits needs one wake-up, not thousands queued up.
        pipe.ltrim(wake_key(), 0, 9)
        pipe.execute()
    except redis.RedisError as exc:
        logger.warning("outbox_wake_failed", extra={"error": str(exc)})


def republish(*, message_ids: list[int]) -> int:
    """Mark rows unpublished again so the relay sends them once more (admin action).

    Consumers skip event ids they have processed, so this is safe for rows that
    did arrive; it is for rows an operator knows were lost downstream.
    """
    count = OutboxMessage.objects.filter(pk__in=message_ids).update(
        published_at=None,
        accepted_at=None,
        delivered_at=None,
        attempts=0,
        deliveries=0,
        last_error="",
    )
    transaction.on_commit(wake_relay)
    return count


def prune_published(*, older_than: timedelta | None = None) -> int:
    """Delete rows published more than ``OUTBOX_RETENTION_DAYS`` ago; returns how many."""
    if older_than is None:
        older_than = timedelta(days=servicekit_settings.OUTBOX_RETENTION_DAYS)
    deleted, _ = OutboxMessage.objects.filter(published_at__lt=timezone.now() - older_than).delete()
    return deleted


def relay_lag_seconds() -> float:
    """Age of the oldest unpublished row (0 when everything is published)."""
    oldest = OutboxMessage.objects.pending().aggregate(oldest=Min("created_at"))["oldest"]
    if oldest is None:
        return 0.0
    return max(0.0, (timezone.now() - oldest).total_seconds())
