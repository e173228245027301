"""``/health`` (liveness, no I/O) and ``/health/ready`` (dependencies).

Readiness runs the callables named in ``SERVICEKIT["READINESS_CHECKS"]``. Each
yields :class:`CheckResult` objects; the response is 503 when any *critical*
check fails, and always lists every check with its status and timing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connections
from django.utils.module_loading import import_string
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from servicekit.redis import get_redis
from servicekit.settings import servicekit_settings

ReadinessCheck = Callable[[], Iterable["CheckResult"]]


@dataclass
class CheckResult:
    name: str
    ok: bool
    critical: bool = True
    duration_ms: float = 0.0
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "ok" if self.ok else "unavailable",
            "duration_ms": self.duration_ms,
        }
        if not self.critical:
            body["critical"] = False
        if self.error:
            body["error"] = self.error
        body.update(self.details)
        return body


def timed_check(name: str, probe: Callable[[], object], *, critical: bool = True) -> CheckResult:
    """Run ``probe``; any exception makes the check fail with its message."""
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        error: str | None = f"{type(exc).__name__}: {exc}".strip()
    else:
        error = None
    duration_ms = round((time.perf_counter() - started) * 1000, 2)
    return CheckResult(
        name, ok=error is None, critical=critical, duration_ms=duration_ms, error=error
    )


def check_databases() -> Iterator[CheckResult]:
    """``SELECT 1`` on every configured database ("database", or "database:<alias>")."""
    aliases = list(connections)
    for alias in aliases:
        name = "database" if len(aliases) == 1 else f"database:{alias}"
        yield timed_check(name, lambda alias=alias: _select_one(alias))  # type: ignore[misc]


def _select_one(alias: str) -> None:
    connection = connections[alias]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        # Don't keep a broken persistent connection for the next request.
        connection.close()
        raise


def check_redis() -> Iterator[CheckResult]:
    yield timed_check("redis", lambda: get_redis().ping())


def run_readiness_checks() -> tuple[bool, dict[str, Any]]:
    results: list[CheckResult] = []
    for path in servicekit_settings.READINESS_CHECKS:
        check: ReadinessCheck = import_string(path)
        results.extend(check())
    ready = all(result.ok for result in results if result.critical)
    return ready, {result.name: result.as_dict() for result in results}


@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def health(request: Request) -> Response:
    """Liveness: the process answers. No I/O, so it never fails because of a dependency."""
    return Response(
        {
            "status": "ok",
            "service": servicekit_settings.SERVICE_NAME,
            "version": servicekit_settings.SERVICE_VERSION,
        }
    )


@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
def ready(request: Request) -> Response:
    """Readiness: 200 when every critical dependency answers, 503 naming the ones that don't."""
    is_ready, checks = run_readiness_checks()
    return Response(
        {"status": "ok" if is_ready else "unavailable", "checks": checks},
        status=200 if is_ready else 503,
    )
