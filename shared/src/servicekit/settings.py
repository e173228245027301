"""The ``SERVICEKIT`` setting, read the way DRF reads ``REST_FRAMEWORK``.

A project sets only what differs from the defaults::

    SERVICEKIT = {
        "SERVICE_NAME": "todo-service",
        "SERVICE_VERSION": "1.0.0",
        "REDIS_URL": REDIS_URL,
    }

and code reads ``servicekit_settings.SERVICE_NAME``. This module never looks at
environment variables: each project's ``settings.py`` does that, in one place.

The defaults know nothing of the suite's topology: which service another one
calls, or where its events go, is each project's own setting. Code that needs
such a setting reads it with :meth:`ServiceKitSettings.required`, which names
the setting when a project left it unset.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
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
    # Outbound calls to other services (servicekit.http): timeouts in seconds,
    # retries of idempotent calls, and each upstream's circuit breaker.
    "HTTP_CONNECT_TIMEOUT": 1.0,
    "HTTP_READ_TIMEOUT": 5.0,
    "HTTP_RETRIES": 2,
    "HTTP_BREAKER_FAIL_MAX": 5,
    "HTTP_BREAKER_RESET_SECONDS": 30,
    # The transactional outbox (servicekit.outbox): where events are published
    # (a Celery broker URL; None means REDIS_URL), as which task, on which queue
    # (the consumer's: every project with an outbox names them) ...
    "BROKER_URL": None,
    "OUTBOX_TASK_NAME": None,
    "OUTBOX_QUEUE": None,
    # ... how the relay works: rows per batch, seconds between sweeps when no
    # commit wakes it, the ceiling of its back-off while the broker is down,
    "OUTBOX_BATCH_SIZE": 100,
    "OUTBOX_SWEEP_SECONDS": 1.0,
    "OUTBOX_MAX_BACKOFF_SECONDS": 2.0,
    # ... how long published rows are kept, how often the relay prunes them (and
    # runs the OUTBOX_HOUSEKEEPING callables, dotted paths, e.g. pruning idempotency keys),
    "OUTBOX_RETENTION_DAYS": 7,
    "OUTBOX_PRUNE_INTERVAL_SECONDS": 3600,
    "OUTBOX_HOUSEKEEPING": [],
    # ... and the relay lag (age of the oldest unpublished row) readiness warns about.
    "OUTBOX_LAG_WARNING_SECONDS": 60,
    # End-to-end delivery (servicekit.events.receipts): a published event the
    # consumer has not confirmed after this many seconds is published again, up to
    # OUTBOX_MAX_DELIVERIES times in all (0 turns redelivery off). Longer than the
    # consumer's own retries take, so that those are not duplicated.
    "OUTBOX_REDELIVER_AFTER_SECONDS": 300.0,
    # ... and one with no receipt at all (not even "accepted") after this many
    # seconds, while nothing waits in the consumer's queue, was lost on the way:
    # it is published again then (0: only after OUTBOX_REDELIVER_AFTER_SECONDS).
    "OUTBOX_REDELIVER_LOST_AFTER_SECONDS": 20.0,
    "OUTBOX_MAX_DELIVERIES": 5,
    # How long the consumer's receipts are kept in Redis.
    "EVENT_RECEIPT_TTL_SECONDS": 7 * 24 * 3600,
    # Metrics (servicekit.metrics): the directory the service's processes on this
    # machine write their samples into (None: a temporary one per process group),
    # the port a Celery worker or relay serves its own /metrics on (None: none;
    # for containers, where nobody else reads its directory), and a bearer token
    # GET /metrics requires (None: open; set it where the port is public).
    "METRICS_DIR": None,
    "WORKER_METRICS_PORT": None,
    "METRICS_TOKEN": None,
    # Where people reach the suite (the gateway, which has the browser login): a
    # browsable API page on a service's own port that answers 401 links to its /auth/login.
    "GATEWAY_URL": "http://127.0.0.1:8080",
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

    def required(self, name: str) -> Any:
        """A setting without a usable default: ImproperlyConfigured, naming it, when unset."""
        value = getattr(self, name)
        if value is None or value == "":
            raise ImproperlyConfigured(
                f"SERVICEKIT[{name!r}] is not set; the project's settings.py must set it"
            )
        return value

    def reload(self) -> None:
        self._cache.clear()


servicekit_settings = ServiceKitSettings()


@receiver(setting_changed)
def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "SERVICEKIT":
        servicekit_settings.reload()
