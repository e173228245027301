"""The broker transport options, as kombu's Redis transport takes them, against real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from kombu import Connection
from kombu.transport.redis import Mutex, MutexHeld

from servicekit.celery_defaults import broker_transport_options


@pytest.fixture
def broker() -> Iterator[Connection]:
    options = broker_transport_options(visibility_timeout=45, unacked_restore_interval=5)
    connection = Connection(settings.SERVICEKIT["REDIS_URL"], transport_options=options)
    yield connection
    connection.release()


def test_a_worker_that_dies_holding_the_redelivery_lock_holds_it_for_seconds(broker) -> None:
    # given a worker that took the lock for looking up abandoned messages and died
    # before releasing it (killed, or its Redis restarted and kept the key)
    channel = broker.default_channel
    qos = channel.qos
    client = redis.Redis.from_url(settings.SERVICEKIT["REDIS_URL"])
    client.delete(qos.unacked_mutex_key)
    held = Mutex(channel.client, qos.unacked_mutex_key, qos.unacked_mutex_expire)
    held.__enter__()  # entered and never left, as by a process that died

    # then another worker is kept out of it
    with (
        pytest.raises(MutexHeld),
        Mutex(channel.client, qos.unacked_mutex_key, qos.unacked_mutex_expire),
    ):
        pass
    # but only for seconds, not kombu's five minutes: Redis expires the lock
    assert 0 < client.ttl(qos.unacked_mutex_key) <= 5
    assert qos.visibility_timeout == 45
    client.delete(qos.unacked_mutex_key)
