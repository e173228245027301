"""Reading what the relay published, straight from the broker's queue (for tests).

Celery's Redis transport keeps a queue as a Redis list named after it; each
item is a JSON message whose ``body`` is base64 of ``[args, kwargs, embed]``
(Celery message protocol 2). This reads the list without consuming it, so a
test sees exactly what a notification worker would receive.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import redis

from servicekit.settings import servicekit_settings


def published_messages(broker_url: str, queue: str | None = None) -> list[dict[str, Any]]:
    """Every message waiting on ``queue``, oldest first, as ``{"task", "id", "envelope"}``.

    ``queue`` is ``SERVICEKIT["OUTBOX_QUEUE"]`` unless given.
    """
    queue = queue or servicekit_settings.required("OUTBOX_QUEUE")
    client = redis.Redis.from_url(broker_url)
    try:
        raw_items = client.lrange(queue, 0, -1)
    finally:
        client.close()
    messages = []
    # Celery LPUSHes and workers BRPOP, so the oldest item is the last one.
    for raw in reversed(raw_items):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        messages.append(
            {
                "task": message["headers"]["task"],
                "id": message["headers"]["id"],
                "envelope": args[0],
            }
        )
    return messages


def published_envelopes(broker_url: str, queue: str | None = None) -> list[dict[str, Any]]:
    return [message["envelope"] for message in published_messages(broker_url, queue)]
