"""Delivery receipts: the consumer's word that it is done with an event.

The transactional outbox guarantees an event reaches the broker. It cannot see
what happens after: a broker that loses a message it had already handed out
(Redis dying between a worker's pop and its "unacknowledged" record, or a
Redis without persistence restarting) loses the event silently. So the
consumer, once an event is handled for good (its outcome recorded in its own
database), writes a receipt into Redis::

    receipts.confirm(envelope["id"])

and the producer's relay publishes again any event that has no receipt
``OUTBOX_REDELIVER_AFTER_SECONDS`` after it was published (consumers are
idempotent by event id, so a second copy does no harm). Receipts expire after
``EVENT_RECEIPT_TTL_SECONDS``; if Redis loses them, the relay redelivers and
the consumer confirms again: the cost is a duplicate it skips, never a loss.

One receipt per event id: the suite has one consumer per queue.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis

from servicekit.redis import get_redis
from servicekit.settings import servicekit_settings

logger = logging.getLogger(__name__)

PREFIX = "event-receipt:"


def confirm(event_id: str) -> None:
    """Record that the event is handled. Best effort: without it, the event comes again."""
    try:
        get_redis().set(
            f"{PREFIX}{event_id}", 1, ex=int(servicekit_settings.EVENT_RECEIPT_TTL_SECONDS)
        )
    except redis.RedisError as exc:
        logger.warning("event_receipt_failed", extra={"event_id": event_id, "error": str(exc)})


def confirmed(event_ids: Sequence[str]) -> set[str]:
    """Which of these events have a receipt (raises ``redis.RedisError`` if Redis is away)."""
    if not event_ids:
        return set()
    found = get_redis().mget([f"{PREFIX}{event_id}" for event_id in event_ids])
    return {event_id for event_id, value in zip(event_ids, found, strict=True) if value}
