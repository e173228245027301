"""The ``SERVICEKIT`` setting, read the way DRF reads ``REST_FRAMEWORK``.

A project sets only what differs from the defaults::

    SERVICEKIT = {
        "SERVICE_NAME": "todo-service",
        "SERVICE_VERSION": "1.0.0",
        "REDIS_URL": REDIS_URL,
    }

and code reads ``servicekit_settings.SERVICE_NAME``. This module never looks at
environment variables: each project's ``settings.py`` does that, in one place.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS: dict[str, Any] = {
    # What /health reports and what every log line carries as "service".
    "SERVICE_NAME": "service",
    "SERVICE_VERSION": "0.0.0",
    # Redis used by readiness checks (and later by the rate limiter, denylist, outbox relay).
    "REDIS_URL": None,
    # Callables run by /health/ready; each yields CheckResult objects.
    "READINESS_CHECKS": [
        "servicekit.health.check_databases",
        "servicekit.health.check_redis",
    ],
    # Seconds a single readiness check may take before it counts as failed.
    "HEALTH_CHECK_TIMEOUT": 2.0,
    # Request ids longer than this, or with characters outside visible ASCII, are replaced.
    "REQUEST_ID_MAX_LENGTH": 128,
    # Request bodies larger than this are refused with 413 before a view runs.
    "MAX_BODY_BYTES": 1024 * 1024,
    # Token verification (servicekit.tokens): where the public keys come from ...
    "JWKS_URL": None,
    "JWKS_PROVIDER": None,  # dotted path to a callable returning a JWKS dict (user-service)
    # ... how long they are trusted, how often an unknown kid may trigger a refetch,
    "JWKS_CACHE_SECONDS": 300,
    "JWKS_REFETCH_INTERVAL": 10,
    # ... and the clock skew tolerated on exp/iat.
    "JWT_LEEWAY_SECONDS": 5,
}


class ServiceKitSettings:
    """Attribute access to ``settings.SERVICEKIT`` with defaults filled in."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Invalid servicekit setting: {name!r}")
        if name not in self._cache:
            user_settings = getattr(settings, "SERVICEKIT", {})
            self._cache[name] = user_settings.get(name, DEFAULTS[name])
        return self._cache[name]

    def reload(self) -> None:
        self._cache.clear()


servicekit_settings = ServiceKitSettings()


@receiver(setting_changed)
def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "SERVICEKIT":
        servicekit_settings.reload()
