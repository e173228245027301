"""Login throttling inside user-service: a second line behind the gateway's limit.

Attempts are counted per (username, client IP) in a fixed window in Redis
(``SET NX EX`` + ``INCR`` in one transaction, so every worker process shares the
count). When Redis is down the throttle lets requests through: logging in
matters more than this second line of defence, and the gateway has the first.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from typing import Any

import redis
from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView
from servicekit.redis import get_redis

logger = logging.getLogger(__name__)

PREFIX = "login-attempts:"


def client_ip(request: Request) -> str:
    """The caller's address; ``X-Forwarded-For`` is believed only from a trusted proxy.

    Walking the header from the right, the first address that is not one of
    our proxies is the client: anything left of it was written by the client
    and may be forged.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    chain = [remote]
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if forwarded and _is_trusted(remote):
        chain = [remote, *reversed([part.strip() for part in forwarded.split(",")])]
    for address in chain:
        if not _is_trusted(address):
            return address
    return chain[-1]


def _is_trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXIES)


class LoginRateThrottle(BaseThrottle):
    """``USER_LOGIN_RATE_LIMIT`` attempts per window, per (username, client IP)."""

    def __init__(self) -> None:
        self.wait_seconds: int | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        limit, period = settings.USER_LOGIN_RATE_LIMIT
        data: Any = request.data
        username = str(data.get("username", "")) if hasattr(data, "get") else ""
        # Hashed: usernames in key names would be one more place to scrub.
        who = hashlib.sha256(f"{username.lower()}\0{client_ip(request)}".encode()).hexdigest()
        key = f"{PREFIX}{who[:32]}"
        try:
            pipe = get_redis().pipeline(transaction=True)
            # The first attempt opens the window (SET NX EX); INCR keeps its expiry.
            pipe.set(key, 0, ex=period, nx=True)
            pipe.incr(key)
            pipe.ttl(key)
            _, count, ttl = pipe.execute()
        except redis.RedisError as exc:
            logger.warning("login_throttle_unavailable", extra={"error": str(exc)})
            return True
        if count <= limit:
            return True
        self.wait_seconds = max(int(ttl), 1)
        return False

    def wait(self) -> float | None:
        return self.wait_seconds
