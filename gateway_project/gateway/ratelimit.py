"""Rate limits in Redis, checked together with token revocation in one round trip.

One Lua script per request (atomic on the Redis server) answers both "is this
token's ``jti`` on the denylist?" and "how many requests has this client made
in its current window?". Windows are fixed: the first request of a client
starts a window of the policy's length; the counter key expires with it.

Policies (``N`` requests per ``W`` seconds, from settings):

- ``user``: authenticated requests, per user id (``GATEWAY_RATE_LIMIT``);
- ``ip``: anonymous requests, per client IP (``GATEWAY_ANON_RATE_LIMIT``);
- ``login``: ``/auth/login``, per client IP (``GATEWAY_LOGIN_RATE_LIMIT``).

If Redis is unreachable the gateway *fails open*: it counts in process memory
instead (each worker on its own, so a client may get a few times its quota)
and logs a warning, rather than refusing every request or answering 500. A
circuit breaker around Redis keeps a dead Redis from costing a connect attempt
on every request.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

import redis
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse
from servicekit.breaker import CircuitBreaker, CircuitBreakerError
from servicekit.redis import get_redis
from servicekit.tokens import DENYLIST_PREFIX

logger = logging.getLogger(__name__)

KEY_PREFIX = "gateway:ratelimit:"

# KEYS[1]: the client's counter. KEYS[2] (optional): the token's denylist key.
# ARGV[1]: the window in milliseconds. Returns {count, ms left in the window},
# or {-1, 0} for a revoked token (which is then not counted).
SCRIPT = """
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then
  return {-1, 0}
end
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  ttl = tonumber(ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return {count, ttl}
"""


@dataclass(frozen=True)
class Policy:
    name: str
    limit: int
    window: int  # seconds


@dataclass(frozen=True)
class Decision:
    """The outcome for one request, and the headers that tell the client about it."""

    policy: Policy
    count: int
    reset: int  # whole seconds until the window ends
    revoked: bool = False

    @property
    def allowed(self) -> bool:
        return self.count <= self.policy.limit

    @property
    def remaining(self) -> int:
        return max(0, self.policy.limit - self.count)

    def apply_headers(self, response: HttpResponse) -> None:
        """IETF ``RateLimit-Policy``/``RateLimit`` (draft 9) and the common ``X-RateLimit-*``."""
        policy = self.policy
        response["RateLimit-Policy"] = f'"{policy.name}";q={policy.limit};w={policy.window}'
        response["RateLimit"] = f'"{policy.name}";r={self.remaining};t={self.reset}'
        response["X-RateLimit-Limit"] = str(policy.limit)
        response["X-RateLimit-Remaining"] = str(self.remaining)
        response["X-RateLimit-Reset"] = str(self.reset)

    def too_many_requests(self) -> JsonResponse:
        policy = self.policy
        response = JsonResponse(
            {
                "detail": (
                    f"Rate limit of {policy.limit} requests per {policy.window} s exceeded; "
                    f"retry in {self.reset} s."
                ),
                "code": "rate_limited",
            },
            status=429,
        )
        response["Retry-After"] = str(self.reset)
        self.apply_headers(response)
        return response


class LocalCounter:
    """The same fixed windows in process memory: the fallback while Redis is away."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, window: int) -> tuple[int, float]:
        now = time.monotonic()
        with self._lock:
            if len(self._windows) > 10_000:
                self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
            ends, count = self._windows.get(key, (0.0, 0))
            if ends <= now:
                ends, count = now + window, 0
            self._windows[key] = (ends, count + 1)
        return count + 1, ends - now


class RateLimiter:
    """Counts requests per policy and subject; one instance per process."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._script: redis.commands.core.Script | None = None
        self._local = LocalCounter()
        # A few failures in a row and Redis is left alone for a while.
        self._redis_breaker = CircuitBreaker(fail_max=3, reset_timeout=5, name="redis")
        self._last_warning = float("-inf")

    def check(self, policy: Policy, subject: str, *, jti: str | None = None) -> Decision:
        """Count one request of ``subject`` under ``policy``; also see if ``jti`` is revoked."""
        key = f"{KEY_PREFIX}{policy.name}:{subject}"
        try:
            count, ttl_ms = self._redis_breaker.call(self._run_script, key, policy, jti)
        except (redis.RedisError, CircuitBreakerError) as exc:
            self._warn(exc)
            count, ttl_seconds = self._local.hit(key, policy.window)
            return Decision(policy, count, max(1, math.ceil(ttl_seconds)))
        if count < 0:
            return Decision(policy, 0, policy.window, revoked=True)
        return Decision(policy, count, max(1, math.ceil(ttl_ms / 1000)))

    def _run_script(self, key: str, policy: Policy, jti: str | None) -> tuple[int, int]:
        client = get_redis()
        if self._script is None or self._script.registered_client is not client:
            self._script = client.register_script(SCRIPT)
        keys = [key, f"{DENYLIST_PREFIX}{jti}"] if jti else [key]
        count, ttl_ms = self._script(keys=keys, args=[policy.window * 1000])
        return int(count), int(ttl_ms)

    def _warn(self, exc: Exception) -> None:
        # One line per 10 s per process is enough to page someone; not one per request.
        now = time.monotonic()
        if now - self._last_warning >= 10:
            self._last_warning = now
            logger.warning(
                "rate_limit_redis_unavailable",
                extra={"error": f"{type(exc).__name__}: {exc}", "fallback": "per-process"},
            )


limiter = RateLimiter()


@receiver(setting_changed)
def _reset_on_change(*, setting: str, **kwargs: object) -> None:
    if setting == "SERVICEKIT" or setting.startswith("GATEWAY_"):
        limiter.reset()
