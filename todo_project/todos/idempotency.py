"""``Idempotency-Key`` for POST /todos: a retried request gets the first response back.

The first request with a key stores (user, key, body hash, status, body) in
the same transaction as the todo it creates. A repeat with the same body gets
that response again (same status, same id); with another body, 422.

Concurrent repeats are decided by the database: the key row is inserted
*before* the todo is created, under a unique constraint on (user_id, key).
On PostgreSQL the second INSERT waits for the first transaction and then
fails; on SQLite (``transaction_mode=IMMEDIATE``) the second transaction
waits for the first one as a whole. Either way the loser reads the winner's
stored response, and exactly one todo exists.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status
from servicekit.exceptions import ServiceError

from todos.models import IdempotencyKey

KEY_LIFETIME = timedelta(hours=24)
KEY_MAX_LENGTH = 255


class IdempotencyKeyReused(ServiceError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was already used with a different request body; "
        "use a new key for a new request."
    )
    default_code = "idempotency_key_reused"


class InvalidIdempotencyKey(ServiceError):
    default_detail = (
        f"Idempotency-Key must be 1 to {KEY_MAX_LENGTH} visible ASCII characters without spaces."
    )
    default_code = "invalid_idempotency_key"


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]
    replayed: bool


def check_key(key: str) -> str:
    if not (0 < len(key) <= KEY_MAX_LENGTH and key.isascii() and key.isprintable()) or " " in key:
        raise InvalidIdempotencyKey()
    return key


def request_hash(body: Any) -> str:
    """The same JSON document always hashes the same (key order and spacing do not matter)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@transaction.atomic
def idempotent(
    *,
    user_id: int,
    key: str,
    body_hash: str,
    respond: Callable[[], tuple[int, dict[str, Any]]],
) -> StoredResponse:
    """``respond()``'s status and body, or the stored ones of an earlier request with ``key``."""
    IdempotencyKey.objects.filter(
        user_id=user_id, key=key, created_at__lt=timezone.now() - KEY_LIFETIME
    ).delete()
    try:
        with transaction.atomic():  # a savepoint: the failed INSERT must not doom the transaction
            record = IdempotencyKey.objects.create(
                user_id=user_id, key=key, request_hash=body_hash, status_code=0, response_body={}
            )
    except IntegrityError:
        earlier = IdempotencyKey.objects.get(user_id=user_id, key=key)
        if earlier.request_hash != body_hash:
            raise IdempotencyKeyReused() from None
        return StoredResponse(earlier.status_code, earlier.response_body, replayed=True)
    status_code, body = respond()
    record.status_code, record.response_body = status_code, body
    record.save(update_fields=["status_code", "response_body"])
    return StoredResponse(status_code, body, replayed=False)


def idempotency_keys_prune() -> int:
    """Delete keys older than 24 hours (run by the outbox relay's housekeeping)."""
    deleted, _ = IdempotencyKey.objects.filter(
        created_at__lt=timezone.now() - KEY_LIFETIME
    ).delete()
    return deleted
