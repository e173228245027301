"""/health (liveness) and /health/ready (readiness) against a real Redis and database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from django.utils.connection import ConnectionDoesNotExist
from pytest_django import DjangoDbBlocker, Settings

from servicekit.health import CheckResult, run_readiness_checks


def degraded_cache_check() -> Iterator[CheckResult]:
    """A readiness check named by dotted path in the tests' SERVICEKIT setting."""
    yield CheckResult("cache", ok=False, critical=False, error="cache is cold")


def failing_critical_check() -> Iterator[CheckResult]:
    yield CheckResult("queue", ok=False, error="queue is down")


def use_servicekit(settings: Settings, **overrides: Any) -> None:
    settings.SERVICEKIT = {**settings.SERVICEKIT, **overrides}


@contextmanager
def extra_database(alias: str, config: dict[str, Any]) -> Iterator[None]:
    """A second DATABASES alias for the duration of the block, removed afterwards.

    Django does not rebuild ``connections`` when settings.DATABASES is overridden,
    so the alias is added to (and removed from) the connection handler itself.
    """
    full = connections.configure_settings({"default": {}, alias: dict(config)})[alias]
    connections.settings[alias] = full
    try:
        yield
    finally:
        if any(c.alias == alias for c in connections.all(initialized_only=True)):
            connections[alias].close()
            del connections[alias]
        del connections.settings[alias]


# -- liveness -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/health", "/health/"])
def test_health_answers_with_service_name_and_version(client: Client, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "service": "test-service", "version": "9.9.9"}


def test_health_reports_the_current_servicekit_setting(client: Client, settings: Settings) -> None:
    # given
    use_servicekit(settings, SERVICE_NAME="renamed-service", SERVICE_VERSION="2.0.0")

    # when
    body = client.get("/health").json()

    # then
    assert (body["service"], body["version"]) == ("renamed-service", "2.0.0")


def test_health_does_not_depend_on_redis(
    client: Client, settings: Settings, closed_port: int
) -> None:
    use_servicekit(settings, REDIS_URL=f"redis://127.0.0.1:{closed_port}/15")

    assert client.get("/health").status_code == 200


@pytest.mark.parametrize("path", ["/health", "/health/ready"])
def test_health_refuses_post_with_a_json_error(client: Client, path: str) -> None:
    response = client.post(path)

    assert response.status_code == 405
    assert response.json() == {
        "detail": 'Method "POST" not allowed.',
        "code": "method_not_allowed",
    }


# -- readiness ----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/health/ready", "/health/ready/"])
def test_ready_when_database_and_redis_answer(client: Client, path: str) -> None:
    response = client.get(path)

    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis"}
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert check["duration_ms"] >= 0
        assert "error" not in check


@pytest.mark.django_db
def test_not_ready_when_redis_refuses_connections(
    client: Client, settings: Settings, closed_port: int
) -> None:
    # given
    use_servicekit(settings, REDIS_URL=f"redis://127.0.0.1:{closed_port}/15")

    # when
    response = client.get("/health/ready")

    # then
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"]["status"] == "unavailable"
    assert body["checks"]["redis"]["error"].startswith("ConnectionError: ")
    assert str(closed_port) in body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.django_db
def test_not_ready_without_a_redis_url(client: Client, settings: Settings) -> None:
    use_servicekit(settings, REDIS_URL=None)

    response = client.get("/health/ready")

    assert response.status_code == 503
    assert "REDIS_URL" in response.json()["checks"]["redis"]["error"]


def test_not_ready_when_one_of_several_databases_refuses_connections(
    client: Client, closed_port: int, django_db_blocker: DjangoDbBlocker
) -> None:
    # Not a django_db test: its test case only lets the aliases that existed when it
    # started connect. Unblocked, both databases are reached for real.
    # given a second database on a closed port
    broken = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "todos",
        "USER": "todo",
        "HOST": "127.0.0.1",
        "PORT": closed_port,
        "OPTIONS": {"connect_timeout": 2},
    }
    with django_db_blocker.unblock(), extra_database("reporting", broken):
        # when
        response = client.get("/health/ready")

    # then each database is named by its alias
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["database:default"]["status"] == "ok"
    reporting = body["checks"]["database:reporting"]
    assert reporting["status"] == "unavailable"
    assert reporting["error"].startswith("OperationalError: ")
    assert body["checks"]["redis"]["status"] == "ok"
    # and the extra alias is gone again
    assert list(connections) == ["default"]
    with pytest.raises(ConnectionDoesNotExist):
        connections["reporting"]


@pytest.mark.django_db
def test_a_failing_non_critical_check_is_listed_but_keeps_the_service_ready(
    client: Client, settings: Settings
) -> None:
    # given
    use_servicekit(
        settings,
        READINESS_CHECKS=[
            "servicekit.health.check_databases",
            "servicekit.health.check_redis",
            f"{__name__}.degraded_cache_check",
        ],
    )

    # when
    response = client.get("/health/ready")

    # then
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["checks"]["cache"] == {
        "status": "unavailable",
        "duration_ms": 0.0,
        "critical": False,
        "error": "cache is cold",
    }


@pytest.mark.django_db
def test_a_failing_critical_custom_check_makes_the_service_unready(
    settings: Settings,
) -> None:
    use_servicekit(
        settings,
        READINESS_CHECKS=[
            "servicekit.health.check_databases",
            f"{__name__}.failing_critical_check",
        ],
    )

    ready, checks = run_readiness_checks()

    assert ready is False
    assert checks["queue"]["status"] == "unavailable"
    assert checks["database"]["status"] == "ok"
