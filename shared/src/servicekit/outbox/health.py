"""Readiness check for the outbox: warns (non-critical) when the relay falls behind."""

from __future__ import annotations

from collections.abc import Iterator

from servicekit.health import CheckResult, timed_check
from servicekit.outbox.services import relay_lag_seconds
from servicekit.settings import servicekit_settings


def check_outbox() -> Iterator[CheckResult]:
    """``outbox``: the relay lag in seconds; "unavailable" past ``OUTBOX_LAG_WARNING_SECONDS``.

    Not critical: a stuck relay delays emails but the API still works, so the
    service must stay in the load balancer. The lag is what to alert on.
    """
    lag: list[float] = []
    result = timed_check("outbox", lambda: lag.append(relay_lag_seconds()), critical=False)
    if lag:
        result.details["lag_seconds"] = round(lag[0], 3)
        limit = servicekit_settings.OUTBOX_LAG_WARNING_SECONDS
        if lag[0] > limit:
            result.ok = False
            result.error = f"relay lag {lag[0]:.0f}s exceeds {limit}s"
    yield result
