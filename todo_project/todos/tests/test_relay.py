"""The outbox relay against a real Redis: every committed event is published, once.

The broker is a redis-server of the test's own (``private_redis``), so tests
can stop it and start it again; what was published is read back from the
``notification.events`` list, exactly as a Celery worker would receive it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from servicekit import heartbeat
from servicekit.events import receipts
from servicekit.outbox import services as outbox_services
from servicekit.outbox.models import OutboxMessage
from servicekit.outbox.relay import PublishFailed, Relay
from servicekit.outbox.testing import published_envelopes, published_messages
from servicekit.testing import RedisServer, wait_for

from todos import services
from todos.tests.support import (
    ALICE,
    in_failing_transaction,
    make_todo,
    on_postgresql,
    run_concurrently,
)


@contextmanager
def looping(relay: Relay) -> Iterator[Relay]:
    """The relay looping in a thread (as ``manage.py relay_outbox`` does), stopped afterwards."""

    def run() -> None:
        try:
            relay.run()
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="relay")
    thread.start()
    try:
        yield relay
    finally:
        relay.stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the relay did not stop when asked"


@pytest.fixture
def running_relay() -> Iterator[Relay]:
    with looping(Relay()) as relay:
        yield relay


@pytest.mark.django_db
class TestPublishing:
    def test_each_row_is_published_once_oldest_first_as_a_celery_task(
        self, private_redis: RedisServer
    ) -> None:
        todo = make_todo(ALICE, title="one")
        make_todo(ALICE, title="two")
        services.todo_complete(todo=todo)
        written = [row.envelope for row in OutboxMessage.objects.order_by("id")]

        published = Relay().drain()
        again = Relay().drain()

        messages = published_messages(private_redis.url)
        assert (published, again) == (3, 0)
        assert [m["envelope"] for m in messages] == written
        assert {m["task"] for m in messages} == {"notification.handle_event"}
        assert [m["id"] for m in messages] == [e["id"] for e in written]
        assert OutboxMessage.objects.pending().count() == 0

    def test_with_the_broker_unreachable_rows_stay_pending_with_the_error(
        self, private_redis: RedisServer
    ) -> None:
        make_todo(ALICE)
        private_redis.stop()

        with pytest.raises(PublishFailed):
            Relay().drain()

        row = OutboxMessage.objects.get()
        assert row.published_at is None
        assert row.attempts == 1
        assert "refused" in row.last_error.lower()

    def test_one_broker_connection_serves_batch_after_batch(
        self, private_redis: RedisServer
    ) -> None:
        relay = Relay()
        make_todo(ALICE, title="first")
        assert relay.drain() == 1
        connected = _connections_received(private_redis.url)

        for n in range(4):
            make_todo(ALICE, title=f"todo {n}")
            assert relay.drain() == 1

        # the later batches went out on the connection the first one opened
        assert _connections_received(private_redis.url) == connected + 1  # +1: the asking one
        assert len(published_envelopes(private_redis.url)) == 5

    def test_after_a_broker_restart_the_next_batch_connects_again_without_failing(
        self, private_redis: RedisServer
    ) -> None:
        relay = Relay()
        make_todo(ALICE, title="before")
        assert relay.drain() == 1

        # the broker restarts between two batches: the kept connection is dead
        private_redis.stop()
        private_redis.start()
        make_todo(ALICE, title="after")

        assert relay.drain() == 1
        row = OutboxMessage.objects.get(envelope__data__title="after")
        assert (row.attempts, row.last_error) == (0, "")
        assert row.published_at is not None

    def test_the_management_command_publishes_what_is_pending(
        self, private_redis: RedisServer
    ) -> None:
        make_todo(ALICE)
        make_todo(ALICE)

        call_command("relay_outbox", "--once")

        assert len(published_envelopes(private_redis.url)) == 2

    def test_a_relay_with_nowhere_to_publish_does_not_start(self, settings: Any) -> None:
        settings.SERVICEKIT = {**settings.SERVICEKIT, "OUTBOX_QUEUE": None}

        with pytest.raises(ImproperlyConfigured, match=r"SERVICEKIT\['OUTBOX_QUEUE'\]"):
            Relay()

    def test_old_published_rows_are_pruned_and_pending_ones_kept(
        self, private_redis: RedisServer
    ) -> None:
        make_todo(ALICE)
        Relay().drain()
        OutboxMessage.objects.update(published_at=timezone.now() - timedelta(days=8))
        make_todo(ALICE)  # pending

        assert outbox_services.prune_published() == 1
        assert OutboxMessage.objects.pending().count() == 1


@pytest.mark.django_db
class TestDeliveryReceipts:
    """A published event the consumer never confirms is published again (receipts)."""

    @pytest.fixture(autouse=True)
    def _redeliver_after_a_minute(self, settings: Any, private_redis: RedisServer) -> None:
        settings.SERVICEKIT = {
            **settings.SERVICEKIT,
            "OUTBOX_REDELIVER_AFTER_SECONDS": 60,
            "OUTBOX_MAX_DELIVERIES": 3,
        }

    def _published_a_while_ago(self, seconds: int = 120) -> None:
        """Past OUTBOX_REDELIVER_AFTER_SECONDS (60 here) unless told otherwise."""
        OutboxMessage.objects.update(published_at=timezone.now() - timedelta(seconds=seconds))

    def test_an_unconfirmed_event_is_published_again_and_a_confirmed_one_marked(
        self, private_redis: RedisServer
    ) -> None:
        lost, handled = make_todo(ALICE, title="lost"), make_todo(ALICE, title="handled")
        Relay().drain()
        self._published_a_while_ago()
        # the consumer handled one of them; the broker lost the other one
        handled_row = OutboxMessage.objects.get(subject=f"todos/{handled.pk}")
        receipts.confirm(str(handled_row.event_id))
        redis.Redis.from_url(private_redis.url).delete("notification.events")

        again = Relay().redeliver_unconfirmed()

        assert again == 1
        [message] = published_messages(private_redis.url)
        lost_row = OutboxMessage.objects.get(subject=f"todos/{lost.pk}")
        assert message["id"] == str(lost_row.event_id)
        assert (lost_row.deliveries, lost_row.state) == (2, "published")
        assert lost_row.delivered_at is None
        handled_row.refresh_from_db()
        assert handled_row.delivered_at is not None
        assert handled_row.state == "delivered"

    def test_an_event_lost_on_the_way_is_published_again_once_the_queue_is_empty(
        self, private_redis: RedisServer
    ) -> None:
        make_todo(ALICE)
        Relay().drain()
        # 30 s without a receipt, and nothing waits in the queue: the broker lost it
        self._published_a_while_ago(seconds=30)  # past OUTBOX_REDELIVER_LOST_AFTER_SECONDS
        redis.Redis.from_url(private_redis.url).delete("notification.events")

        assert Relay().redeliver_unconfirmed() == 1

        row = OutboxMessage.objects.get()
        [message] = published_messages(private_redis.url)
        assert message["id"] == str(row.event_id)
        assert (row.deliveries, row.state) == (2, "published")

    def test_an_event_still_queued_is_not_taken_for_lost(self, private_redis: RedisServer) -> None:
        make_todo(ALICE)
        Relay().drain()
        # the consumer is slow or away: the message waits in the queue
        self._published_a_while_ago(seconds=30)  # past OUTBOX_REDELIVER_LOST_AFTER_SECONDS

        assert Relay().redeliver_unconfirmed() == 0
        assert len(published_messages(private_redis.url)) == 1

    def test_an_accepted_event_is_left_to_the_consumer_until_it_is_late(
        self, private_redis: RedisServer
    ) -> None:
        make_todo(ALICE)
        Relay().drain()
        row = OutboxMessage.objects.get()
        # a worker took it and is retrying (its mail server is down): no confirmation yet
        redis.Redis.from_url(private_redis.url).delete("notification.events")
        receipts.accept(str(row.event_id))
        self._published_a_while_ago(seconds=30)  # past OUTBOX_REDELIVER_LOST_AFTER_SECONDS

        assert Relay().redeliver_unconfirmed() == 0
        row.refresh_from_db()
        assert row.state == "accepted"
        assert published_messages(private_redis.url) == []

        # when: it is still not confirmed after OUTBOX_REDELIVER_AFTER_SECONDS
        self._published_a_while_ago()
        assert Relay().redeliver_unconfirmed() == 1
        assert len(published_messages(private_redis.url)) == 1

    def test_accepting_never_undoes_a_confirmation(self) -> None:
        receipts.confirm("event-1")
        receipts.accept("event-1")  # a copy of a handled event, taken by a worker
        receipts.accept("event-2")

        assert receipts.states(["event-1", "event-2", "event-3"]) == {
            "event-1": receipts.DONE,
            "event-2": receipts.ACCEPTED,
        }

    def test_nothing_is_published_again_before_its_time(self, private_redis: RedisServer) -> None:
        make_todo(ALICE)
        Relay().drain()

        assert Relay().redeliver_unconfirmed() == 0
        assert len(published_messages(private_redis.url)) == 1

    def test_after_the_last_delivery_the_event_is_left_undelivered_for_an_operator(
        self, private_redis: RedisServer, admin_client: Client
    ) -> None:
        make_todo(ALICE)
        Relay().drain()
        for _ in range(5):
            self._published_a_while_ago()
            Relay().redeliver_unconfirmed()

        row = OutboxMessage.objects.get()
        assert (row.deliveries, row.state) == (3, "undelivered")
        assert len(published_messages(private_redis.url)) == 3
        listed = admin_client.get("/admin/outbox/outboxmessage/", {"state": "undelivered"})
        assert listed.context["cl"].result_count == 1

    def test_with_redis_away_the_check_fails_and_nothing_changes(
        self, private_redis: RedisServer
    ) -> None:
        make_todo(ALICE)
        Relay().drain()
        self._published_a_while_ago()
        private_redis.stop()

        with pytest.raises(PublishFailed):
            Relay().redeliver_unconfirmed()

        row = OutboxMessage.objects.get()
        assert (row.deliveries, row.delivered_at) == (1, None)


@pytest.mark.django_db(transaction=True)
def test_a_commit_wakes_the_relay_and_a_rollback_does_not(private_redis: RedisServer) -> None:
    client = redis.Redis.from_url(private_redis.url)
    key = outbox_services.wake_key()

    with pytest.raises(RuntimeError):
        in_failing_transaction(lambda: make_todo(ALICE))
    woken_by_rollback = client.llen(key)
    make_todo(ALICE)

    assert woken_by_rollback == 0
    assert client.llen(key) == 1


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_commits_is_one_wake_up(private_redis: RedisServer) -> None:
    client = redis.Redis.from_url(private_redis.url)
    for n in range(5):
        make_todo(ALICE, title=f"todo {n}")
    assert client.llen(outbox_services.wake_key()) == 5

    relay = Relay(sweep_seconds=1)
    relay._wait_for_work()
    published = relay.drain()

    # one wait took all five wake-ups; one drain published all five rows
    assert client.llen(outbox_services.wake_key()) == 0
    assert published == 5


@pytest.mark.django_db(transaction=True)
def test_a_running_relay_publishes_committed_events(
    private_redis: RedisServer, running_relay: Relay
) -> None:
    make_todo(ALICE)

    wait_for(lambda: len(published_envelopes(private_redis.url)) == 1, timeout=10, what="publish")
    assert OutboxMessage.objects.pending().count() == 0


@pytest.mark.django_db(transaction=True)
def test_redis_down_writes_succeed_rows_wait_and_are_all_published_once_after(
    private_redis: RedisServer, running_relay: Relay, alice: APIClient
) -> None:
    # given Redis (the broker) goes away
    private_redis.stop()

    # when todos are created and completed meanwhile
    for n in range(10):
        created = alice.post("/todos", {"title": f"todo {n}"}, format="json")
        assert created.status_code == 201
        completed = alice.post(f"/todos/{created.json()['id']}/complete")
        assert completed.status_code == 200

    # then every event waits in the outbox, and the relay has tried
    wait_for(
        lambda: OutboxMessage.objects.filter(attempts__gt=0).exists(),
        timeout=10,
        what="a failed publish attempt",
    )
    assert OutboxMessage.objects.pending().count() == 20

    # when Redis comes back
    private_redis.start()

    # then within 10 s all 20 are published, each exactly once
    wait_for(lambda: OutboxMessage.objects.pending().count() == 0, timeout=10, what="all published")
    ids = Counter(e["id"] for e in published_envelopes(private_redis.url))
    assert len(ids) == 20
    assert set(ids.values()) == {1}
    assert set(ids) == {str(i) for i in OutboxMessage.objects.values_list("event_id", flat=True)}


@pytest.mark.django_db(transaction=True)
def test_the_loop_beats_its_heartbeat_also_while_the_broker_is_down(
    private_redis: RedisServer, tmp_path: Path
) -> None:
    # given a relay started with a heartbeat file, and no broker
    alive = tmp_path / "relay.alive"
    private_redis.stop()

    with looping(Relay(heartbeat=heartbeat.Heartbeat(alive))):
        # then the file appears, and is touched again while the relay backs off
        wait_for(lambda: alive.exists(), timeout=10, what="the first heartbeat")
        first = alive.stat().st_mtime_ns
        wait_for(lambda: alive.stat().st_mtime_ns > first, timeout=10, what="a second heartbeat")

        # and the health check's command calls it alive
        assert heartbeat.main([str(alive), "--max-age", "10"]) == 0


@pytest.mark.django_db(transaction=True)
def test_two_relays_at_once_publish_each_row_once(private_redis: RedisServer) -> None:
    if not on_postgresql():
        pytest.skip("SQLite has no row locks: run one relay with SQLite (see relay.py)")
    # given 300 pending events
    with transaction.atomic():
        for n in range(300):
            make_todo(ALICE, title=f"todo {n}")

    # when two relays drain the outbox at the same moment, in small batches
    counts = run_concurrently(lambda: Relay(batch_size=10).drain(), threads=2)

    # then together they published 300 messages, no event twice
    ids = Counter(e["id"] for e in published_envelopes(private_redis.url))
    assert sum(counts) == 300
    assert len(ids) == 300
    assert set(ids.values()) == {1}


@pytest.mark.django_db
def test_readiness_warns_without_failing_when_the_relay_lags(client: Client, settings: Any) -> None:
    make_todo(ALICE)
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(seconds=90))

    response = client.get("/health/ready")

    assert response.status_code == 200
    check = response.json()["checks"]["outbox"]
    assert check["status"] == "unavailable"
    assert check["critical"] is False
    assert check["lag_seconds"] >= 90


@pytest.mark.django_db
def test_readiness_reports_no_lag_when_all_is_published(
    client: Client, private_redis: RedisServer
) -> None:
    make_todo(ALICE)
    Relay().drain()

    check = client.get("/health/ready").json()["checks"]["outbox"]

    assert check["status"] == "ok"
    assert check["lag_seconds"] == 0


@pytest.mark.django_db
def test_admin_lists_rows_by_state_and_republishes(admin_client: Client) -> None:
    make_todo(ALICE)
    make_todo(ALICE)
    OutboxMessage.objects.filter(pk=OutboxMessage.objects.first().pk).update(  # type: ignore[union-attr]
        published_at=timezone.now()
    )

    pending = admin_client.get("/admin/outbox/outboxmessage/", {"state": "pending"})
    response = admin_client.post(
        "/admin/outbox/outboxmessage/",
        {
            "action": "republish",
            "_selected_action": list(OutboxMessage.objects.values_list("pk", flat=True)),
        },
    )

    assert pending.status_code == 200
    assert pending.context["cl"].result_count == 1
    assert response.status_code == 302
    assert OutboxMessage.objects.pending().count() == 2


def _connections_received(url: str) -> int:
    """How many connections Redis has accepted since it started (this one included)."""
    return int(redis.Redis.from_url(url).info("stats")["total_connections_received"])
