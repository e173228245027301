"""One Redis client per process, built from ``SERVICEKIT["REDIS_URL"]``."""

from __future__ import annotations

from functools import cache

import redis

from servicekit.settings import servicekit_settings


@cache
def _client(url: str, timeout: float) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        health_check_interval=30,
    )


def get_redis() -> redis.Redis:
    """The process's shared client (a connection pool underneath)."""
    url = servicekit_settings.REDIS_URL
    if not url:
        raise RuntimeError("SERVICEKIT['REDIS_URL'] is not set")
    return _client(url, float(servicekit_settings.HEALTH_CHECK_TIMEOUT))
