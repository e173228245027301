"""The relay: publishes unpublished outbox rows, oldest first, and marks them published.

One loop, run by ``python manage.py relay_outbox``::

    wait for a wake-up (a commit) or the sweep interval
    -> lock a batch of unpublished rows (FOR UPDATE SKIP LOCKED on PostgreSQL)
    -> publish them one by one (on a broker connection kept between batches),
       stop at the first failure
    -> mark the published ones, in the same transaction
    -> on failure back off (doubling, capped) and try again
    -> every sweep: published rows are checked for the consumer's receipts
       (servicekit.events.receipts); confirmed ones are marked delivered, and
       those the broker lost after taking it (no receipt after
       OUTBOX_REDELIVER_LOST_AFTER_SECONDS, with the consumer's queue empty) or
       the consumer never finished (not confirmed after
       OUTBOX_REDELIVER_AFTER_SECONDS) are published again, at most
       OUTBOX_MAX_DELIVERIES times in all: every event arrives

Several relays may run against PostgreSQL: ``SKIP LOCKED`` gives each its own
rows. SQLite has no row locks (``select_for_update`` does nothing there), so
with SQLite run a single relay. Delivery is at-least-once: a crash between
publishing and the commit that marks the rows publishes them again, and
consumers skip event ids they already processed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import redis
from django.db import close_old_connections, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from servicekit import tracing
from servicekit.events import receipts
from servicekit.heartbeat import Heartbeat
from servicekit.metrics.defs import OUTBOX_PUBLISH_FAILURES, OUTBOX_PUBLISHED
from servicekit.outbox import publisher, services
from servicekit.outbox.models import OutboxMessage
from servicekit.settings import servicekit_settings

logger = logging.getLogger("servicekit.outbox.relay")


class PublishFailed(Exception):
    """The broker refused or could not be reached; the unpublished rows stay pending."""


class Relay:
    def __init__(
        self,
        *,
        batch_size: int | None = None,
        sweep_seconds: float | None = None,
        max_backoff_seconds: float | None = None,
        stop: threading.Event | None = None,
        heartbeat: Heartbeat | None = None,
    ) -> None:
        publisher.destination()  # a relay with nowhere to publish stops here, naming the setting
        self.batch_size = batch_size or servicekit_settings.OUTBOX_BATCH_SIZE
        self.sweep_seconds = sweep_seconds or servicekit_settings.OUTBOX_SWEEP_SECONDS
        self.max_backoff = max_backoff_seconds or servicekit_settings.OUTBOX_MAX_BACKOFF_SECONDS
        self.stop = stop or threading.Event()
        self.heartbeat = heartbeat or Heartbeat(None)
        self._failures = 0
        self._next_housekeeping = 0.0
        self._next_receipt_check = 0.0
        self.publisher = publisher.Publisher()

    # -- one batch -------------------------------------------------------------

    def publish_batch(self) -> int:
        """Publish up to ``batch_size`` pending rows; returns how many were published.

        Raises :class:`PublishFailed` after marking the rows that did get out.
        """
        error: Exception | None = None
        with transaction.atomic():
            rows = list(
                OutboxMessage.objects.pending()
                .select_for_update(skip_locked=True)
                .order_by("id")
                .only("id", "envelope", "attempts")[: self.batch_size]
            )
            published: list[int] = []
            if rows:
                try:
                    with self.publisher.publishing() as publish:
                        for row in rows:
                            _publish_traced(publish, row.as_envelope())
                            published.append(row.pk)
                except Exception as exc:  # noqa: BLE001 - any broker failure: keep the rest, retry later
                    error = exc
                    if len(published) < len(rows):
                        failed = rows[len(published)]
                        OutboxMessage.objects.filter(pk=failed.pk).update(
                            attempts=failed.attempts + 1,
                            last_error=f"{type(exc).__name__}: {exc}"[:2000],
                        )
            if published:
                OutboxMessage.objects.filter(pk__in=published).update(
                    published_at=timezone.now(), deliveries=F("deliveries") + 1
                )
        if error is not None:
            raise PublishFailed(str(error)) from error
        return len(published)

    def redeliver_unconfirmed(self) -> int:
        """Read the consumer's receipts of published rows; publish again the lost ones.

        A row is published again when it has no receipt at all
        ``OUTBOX_REDELIVER_LOST_AFTER_SECONDS`` after publishing while the
        consumer's queue is empty (nothing waits that could be it: the broker
        lost it), or when the consumer has not confirmed it
        ``OUTBOX_REDELIVER_AFTER_SECONDS`` after publishing. Rows are marked
        accepted and delivered as their receipts say. Returns how many were
        published again. Raises :class:`PublishFailed` if Redis (receipts or
        broker) cannot be reached.
        """
        after = servicekit_settings.OUTBOX_REDELIVER_AFTER_SECONDS
        if not after:
            return 0
        now = timezone.now()
        late = now - timedelta(seconds=after)
        due = Q(published_at__lt=late)
        lost_after = servicekit_settings.OUTBOX_REDELIVER_LOST_AFTER_SECONDS
        if lost_after and self._consumer_queue_is_empty():
            lost = now - timedelta(seconds=lost_after)
            due |= Q(published_at__lt=lost, accepted_at__isnull=True)
        error: Exception | None = None
        with transaction.atomic():
            rows = list(
                OutboxMessage.objects.unconfirmed()
                .filter(due, deliveries__lt=servicekit_settings.OUTBOX_MAX_DELIVERIES)
                .select_for_update(skip_locked=True)
                .order_by("published_at")
                .only("id", "event_id", "envelope", "deliveries", "published_at", "accepted_at")[
                    : self.batch_size
                ]
            )
            if not rows:
                return 0
            try:
                seen = receipts.states([str(row.event_id) for row in rows])
            except redis.RedisError as exc:
                raise PublishFailed(f"receipts unreadable: {exc}") from exc
            done = [row.pk for row in rows if seen.get(str(row.event_id)) == receipts.DONE]
            OutboxMessage.objects.filter(pk__in=done).update(delivered_at=now)
            accepted = [row for row in rows if seen.get(str(row.event_id)) == receipts.ACCEPTED]
            OutboxMessage.objects.filter(
                pk__in=[row.pk for row in accepted if row.accepted_at is None]
            ).update(accepted_at=now)
            # No receipt: lost. Accepted long ago and never confirmed: the consumer lost it.
            missing = [row for row in rows if str(row.event_id) not in seen]
            missing += [row for row in accepted if row.published_at < late]
            again: list[OutboxMessage] = []
            try:
                with self.publisher.publishing() as publish:
                    for row in missing:
                        _publish_traced(publish, row.as_envelope())
                        again.append(row)
            except Exception as exc:  # noqa: BLE001 - any broker failure: try again later
                error = exc
            OutboxMessage.objects.filter(pk__in=[row.pk for row in again]).update(
                published_at=now, deliveries=F("deliveries") + 1
            )
        for row in again:
            logger.warning(
                "outbox_redelivered",
                extra={"event_id": str(row.event_id), "deliveries": row.deliveries + 1},
            )
        if error is not None:
            raise PublishFailed(str(error)) from error
        return len(again)

    def _consumer_queue_is_empty(self) -> bool:
        try:
            return self.publisher.waiting() == 0
        except Exception as exc:
            raise PublishFailed(f"queue unreadable: {exc}") from exc

    def drain(self) -> int:
        """Publish batches until nothing is pending (or :attr:`stop` is set)."""
        total = 0
        while not self.stop.is_set():
            count = self.publish_batch()
            total += count
            if count < self.batch_size:
                break
        return total

    # -- the loop ----------------------------------------------------------------

    def run(self) -> None:
        """Until :attr:`stop` is set: drain, then wait for a wake-up or the next sweep."""
        logger.info("relay_started", extra={"batch_size": self.batch_size})
        while not self.stop.is_set():
            self.heartbeat.beat()
            close_old_connections()
            try:
                count = self.drain()
                self._check_receipts()
            except PublishFailed as exc:
                self._back_off(exc)
                continue
            except Exception as exc:
                logger.exception("relay_error")
                self._back_off(exc)
                continue
            if self._failures:
                logger.info("relay_recovered", extra={"after_failures": self._failures})
                self._failures = 0
            if count:
                logger.debug("relay_published", extra={"count": count})
            self._housekeeping()
            self._wait_for_work()
        self.publisher.close()
        logger.info("relay_stopped")

    def _back_off(self, exc: Exception) -> None:
        OUTBOX_PUBLISH_FAILURES.labels(servicekit_settings.SERVICE_NAME).inc()
        self._failures += 1
        delay = min(self.max_backoff, 0.05 * 2**self._failures)
        logger.warning(
            "relay_publish_failed",
            extra={"error": str(exc), "failures": self._failures, "retry_in": delay},
        )
        self.stop.wait(delay)

    def _wait_for_work(self) -> None:
        """Block until a commit wakes us (Redis BLPOP) or the sweep interval passes."""
        url = servicekit_settings.REDIS_URL
        if not url:
            self.stop.wait(self.sweep_seconds)
            return
        started = time.monotonic()
        client = _wait_client(url, self.sweep_seconds)
        try:
            if client.blpop([services.wake_key()], timeout=self.sweep_seconds):
                # One drain serves every commit so far: without this, a burst of commits
                # would wake the loop once each, for batches of one row. A commit after
                # the DEL pushes again, and its row is committed before its push.
                client.delete(services.wake_key())
        except redis.RedisError:
            # Redis is down: sweep on the clock instead (the broker is probably down too).
            remaining = self.sweep_seconds - (time.monotonic() - started)
            if remaining > 0:
                self.stop.wait(remaining)

    def _check_receipts(self) -> None:
        """At most once per sweep interval (commits may wake the loop far more often)."""
        now = time.monotonic()
        if now < self._next_receipt_check:
            return
        self._next_receipt_check = now + self.sweep_seconds
        self.redeliver_unconfirmed()

    def _housekeeping(self) -> None:
        """Every ``OUTBOX_PRUNE_INTERVAL_SECONDS``: prune old rows, run OUTBOX_HOUSEKEEPING."""
        now = time.monotonic()
        if now < self._next_housekeeping:
            return
        self._next_housekeeping = now + servicekit_settings.OUTBOX_PRUNE_INTERVAL_SECONDS
        pruned = services.prune_published()
        if pruned:
            logger.info("outbox_pruned", extra={"rows": pruned})
        for path in servicekit_settings.OUTBOX_HOUSEKEEPING:
            import_string(path)()


def _publish_traced(publish: Callable[[dict[str, Any]], None], envelope: dict[str, Any]) -> None:
    """Publish in a span that continues the trace of the request that caused the event.

    Celery's instrumentation puts this span's context in the message headers,
    so the consumer's task continues the same trace.
    """
    event_type = envelope.get("type", "event")
    with tracing.span(
        f"outbox publish {event_type}",
        traceparent=envelope.get("traceparent"),
        kind="producer",
        attributes={"messaging.message.id": envelope.get("id", ""), "event.type": event_type},
    ):
        publish(envelope)
    OUTBOX_PUBLISHED.labels(event_type).inc()


_wait_clients: dict[tuple[str, float], redis.Redis] = {}


def _wait_client(url: str, sweep_seconds: float) -> redis.Redis:
    # BLPOP blocks for up to sweep_seconds: the socket timeout must be longer.
    key = (url, sweep_seconds)
    if key not in _wait_clients:
        _wait_clients[key] = redis.Redis.from_url(
            url, socket_connect_timeout=1, socket_timeout=sweep_seconds + 2
        )
    return _wait_clients[key]
