"""Delivery receipts: the consumer's word on where an event stands.

The transactional outbox guarantees an event reaches the broker. It cannot see
what happens after: a broker that loses a message it had already handed out
(Redis dying between a worker's pop and its "unacknowledged" record, or a
Redis without persistence restarting) loses the event silently. So the
consumer writes a receipt into Redis, in two steps::

    receipts.accept(envelope["id"])   # recorded in its own database; working on it
    receipts.confirm(envelope["id"])  # handled for good: its outcome is recorded

and the producer's relay publishes again any event that has no receipt at all
``OUTBOX_REDELIVER_LOST_AFTER_SECONDS`` after it was published while nothing
waits in the consumer's queue (the message is lost: it is neither queued nor
recorded), and any event not confirmed ``OUTBOX_REDELIVER_AFTER_SECONDS``
after it was published (the consumer accepted it and then lost track of it).
Consumers are idempotent by event id, so a second copy does no harm. Receipts
expire after ``EVENT_RECEIPT_TTL_SECONDS``; if Redis loses them, the relay
redelivers and the consumer confirms again: the cost is a duplicate it skips,
never a loss.

One receipt per event id: the suite has one consumer per queue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Final, Literal

import redis

from servicekit.redis import get_redis
from servicekit.settings import servicekit_settings

logger = logging.getLogger(__name__)

PREFIX = "event-receipt:"
State = Literal["accepted", "done"]
ACCEPTED: Final[State] = "accepted"
DONE: Final[State] = "done"

# A Redis restart takes a few seconds. A receipt the consumer could not write costs
# a duplicate delivery minutes later, so it keeps trying this long first.
PATIENCE_SECONDS = 10.0


def accept(event_id: str) -> None:
    """Record that the event is in the consumer's hands (never undoes a confirmation)."""
    _write(event_id, ACCEPTED, only_if_absent=True)


def confirm(event_id: str) -> None:
    """Record that the event is handled. Best effort: without it, the event comes again."""
    _write(event_id, DONE, only_if_absent=False)


def states(event_ids: Sequence[str]) -> dict[str, State]:
    """The receipt of each event that has one (raises ``redis.RedisError`` if Redis is away)."""
    if not event_ids:
        return {}
    found = get_redis().mget([f"{PREFIX}{event_id}" for event_id in event_ids])
    return {
        # Any value but "accepted" confirms: receipts written before there were two kinds held "1".
        event_id: ACCEPTED if value == ACCEPTED.encode() else DONE
        for event_id, value in zip(event_ids, found, strict=True)
        if value is not None
    }


def _write(event_id: str, state: State, *, only_if_absent: bool) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    pause = 0.1
    while True:
        try:
            get_redis().set(
                f"{PREFIX}{event_id}",
                state,
                ex=int(servicekit_settings.EVENT_RECEIPT_TTL_SECONDS),
                nx=only_if_absent,
            )
            return
        except redis.RedisError as exc:
            if time.monotonic() + pause > deadline:
                logger.warning(
                    "event_receipt_failed",
                    extra={"event_id": event_id, "state": state, "error": str(exc)},
                )
                return
        time.sleep(pause)
        pause = min(2 * pause, 1.0)
