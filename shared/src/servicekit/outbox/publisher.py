"""Publishing an envelope as a Celery task message, by name.

Producers never import consumer code: the message is addressed by the
consumer's task name and queue, ``SERVICEKIT["OUTBOX_TASK_NAME"]`` and
``["OUTBOX_QUEUE"]``, which each producing project sets
(docs/spec/events.md, "Transport"). Celery's own publish retries are off: the
relay owns retrying, with the row safe in the outbox until the broker has
taken it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import cache
from typing import Any

from celery import Celery
from kombu import Connection, Exchange, Queue

from servicekit.settings import servicekit_settings


@cache
def _app(broker_url: str) -> Celery:
    app = Celery("servicekit-outbox", broker=broker_url, set_as_current=False)
    app.conf.update(
        # Fail fast: a publish that cannot reach the broker raises at once and
        # the relay backs off and tries again later; nothing waits in here.
        broker_connection_retry=False,
        broker_connection_retry_on_startup=False,
        broker_connection_max_retries=0,
        broker_connection_timeout=2,
        task_publish_retry=False,
        broker_transport_options={"socket_timeout": 5, "socket_connect_timeout": 2},
        task_serializer="json",
        accept_content=["json"],
    )
    return app


def celery_app() -> Celery:
    """The publishing-only Celery app for ``SERVICEKIT["BROKER_URL"]`` (or ``REDIS_URL``)."""
    url = servicekit_settings.BROKER_URL or servicekit_settings.REDIS_URL
    if not url:
        raise RuntimeError("SERVICEKIT['BROKER_URL'] (or 'REDIS_URL') is not set")
    return _app(url)


def destination() -> tuple[str, str]:
    """``(task name, queue)`` the envelopes are published as; ImproperlyConfigured when unset."""
    return (
        servicekit_settings.required("OUTBOX_TASK_NAME"),
        servicekit_settings.required("OUTBOX_QUEUE"),
    )


class Publisher:
    """Publishes envelopes on one broker connection, kept from one batch to the next.

    Under a steady stream of writes the relay publishes many small batches a
    second; opening a connection for each (a Redis client, a channel, the queue
    declared again) cost more CPU than the messages themselves. The connection
    is dropped whenever a publish fails, and a publish that fails on a kept
    connection is tried once more on a fresh one: after a broker restart the
    kept connection is dead, and the next publish simply connects again.
    """

    def __init__(self) -> None:
        self._connection: Connection | None = None

    @contextmanager
    def publishing(self) -> Iterator[Callable[[dict[str, Any]], None]]:
        """A ``publish(envelope)`` function; a failure closes the connection and raises."""
        task_name, queue = destination()
        app = celery_app()

        def send(envelope: dict[str, Any]) -> None:
            if self._connection is None:
                self._connection = app.connection_for_write()
            # The task id is the event id, so a message can be traced back to its row.
            app.send_task(
                task_name,
                args=[envelope],
                queue=queue,
                task_id=envelope["id"],
                connection=self._connection,
                retry=False,
            )

        def publish(envelope: dict[str, Any]) -> None:
            kept = self._connection is not None
            try:
                send(envelope)
            except Exception:
                self.close()
                if not kept:
                    raise
                send(envelope)  # once more, on a fresh connection

        try:
            yield publish
        except BaseException:
            self.close()
            raise

    def waiting(self) -> int:
        """How many messages wait in the consumer's queue (raises if the broker is away)."""
        _, queue = destination()
        try:
            if self._connection is None:
                self._connection = celery_app().connection_for_write()
            # Declared as Celery declares a queue it publishes to; declaring is
            # idempotent and answers with the number of messages in it.
            declared = Queue(queue, Exchange(queue), routing_key=queue)(
                self._connection.default_channel
            ).queue_declare()
        except Exception:
            self.close()
            raise
        return int(declared.message_count)

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with suppress(Exception):  # a dead connection may fail to close
                connection.release()


@contextmanager
def publishing() -> Iterator[Callable[[dict[str, Any]], None]]:
    """A ``publish(envelope)`` function on one fresh broker connection, closed afterwards."""
    publisher = Publisher()
    try:
        with publisher.publishing() as publish:
            yield publish
    finally:
        publisher.close()
