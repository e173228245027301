"""Celery settings every worker of the suite shares: at-least-once delivery over Redis.

A project's settings star-import this module and then set what is its own
(queues, time limits, and the visibility timeout that fits its tasks)::

    from servicekit.celery_defaults import *  # noqa: F403
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(visibility_timeout=300)

Consumers must be idempotent: a message can arrive twice (a worker died
after doing the work and before acknowledging it).
"""

from __future__ import annotations

from typing import Any

# Keep trying to reach Redis forever, at start-up and after a connection loss.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Acknowledge after the task ran, and put the message back if the worker dies
# while running it: at-least-once delivery.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task whose connection was lost cannot acknowledge; Redis will redeliver it,
# so stop running it rather than finish a copy (the default before Celery 6).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# Task events for Flower: which worker runs what, retries and failures.
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
# Keep Django's JSON logging in the worker too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False


# How long the redelivery lock lives (below); not a setting, hence the underscore.
_RESTORE_LOCK_SECONDS = 5


def broker_transport_options(
    *, visibility_timeout: int, unacked_restore_interval: int = 10
) -> dict[str, Any]:
    """kombu's Redis transport options.

    ``visibility_timeout``: Redis redelivers a message nobody acknowledged
    after this many seconds (a killed worker's task); it must be longer than
    any task can hold a message, countdowns of retries included.
    ``unacked_restore_interval``: how often a worker looks for such messages
    (kombu's default is about 100 s).
    """
    return {
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": unacked_restore_interval,
        "unacked_restore_throttle": 1,
        # The lock a worker takes while it looks for such messages. kombu keeps it for
        # 300 s, so a worker that died holding it (killed, or gone with a Redis
        # restart; Redis keeps the key) stopped every other worker's redelivery for
        # five minutes. The scan takes milliseconds, and two scans at once are safe
        # (each message is moved in a WATCH transaction).
        "unacked_mutex_expire": _RESTORE_LOCK_SECONDS,
        # Notice a dead or restarted Redis instead of waiting on a silent socket.
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
        "socket_keepalive": True,
        "health_check_interval": 10,
        # No "retry_on_timeout" (nor "retry_on_error"): either one makes redis-py give
        # every broker connection a Retry(NoBackoff(), 1), and then a pub/sub read
        # that finds the old Redis gone silently reconnects to the restarted one
        # (without re-subscribing, as kombu sets the connection itself) and waits
        # on it with no timeout (redis-py 8 blocks pub/sub reads forever): the
        # worker hangs without a log line. Without a retry, the ConnectionError
        # reaches Celery, which reconnects and re-subscribes everything itself.
    }
