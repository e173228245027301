"""Revoking a user's access tokens at once (account lock), with servicekit's ``jti`` denylist.

Access tokens are stateless, so user-service remembers the ``jti`` of every
access token it issues, per user, in a Redis sorted set scored by expiry.
Locking the account puts each still-live ``jti`` on the shared denylist, the
one the gateway and every service already check: no verifier change needed,
and the gateway refuses the tokens at once.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from servicekit import tokens
from servicekit.redis import get_redis
from servicekit.settings import servicekit_settings

logger = logging.getLogger(__name__)

ISSUED_PREFIX = "issued-jti:"


def _key(user_id: int) -> str:
    return f"{ISSUED_PREFIX}{user_id}"


def remember_access_token(claims: dict[str, Any]) -> None:
    """Record an issued access token; a Redis outage is logged, not fatal.

    Failing open here means a token issued during an outage cannot be revoked
    by a lock; user-service itself still refuses a locked account (it checks
    the user row), and the token expires within minutes.
    """
    key, now = _key(int(claims["user_id"])), time.time()
    keep = int(claims["exp"] - now) + int(servicekit_settings.JWT_LEEWAY_SECONDS) + 1
    try:
        pipe = get_redis().pipeline(transaction=True)
        pipe.zadd(key, {claims["jti"]: claims["exp"]})
        pipe.zremrangebyscore(key, "-inf", now)
        pipe.expire(key, keep)
        pipe.execute()
    except redis.RedisError as exc:
        logger.warning("issued_token_not_recorded", extra={"error": str(exc)})


def revoke_user_access_tokens(user_id: int) -> int:
    """Deny every live access token of the user; how many there were.

    Raises ``redis.RedisError`` when Redis is down: the caller's transaction
    (the lock) must not pretend the tokens are revoked.
    """
    key = _key(user_id)
    client = get_redis()
    live: list[tuple[bytes, float]] = client.zrangebyscore(  # type: ignore[assignment]
        key, time.time(), "+inf", withscores=True
    )
    for jti, expires_at in live:
        tokens.revoke(jti.decode(), expires_at=expires_at)
    client.delete(key)
    return len(live)
