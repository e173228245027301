"""The gateway when services fail: refused, slow, breaker, Redis gone (real processes)."""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from gateway_support import bearer, register_and_login

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, postgres):  # type: ignore[no-untyped-def]
    from support import Suite

    # One gateway worker, so that one breaker sees every request of the test.
    suite = Suite(
        var_dir=tmp_path_factory.mktemp("gateway-faults"),
        env={
            **postgres.suite_databases("gateway_faults"),
            "GUNICORN_WORKERS": "1",
            "GATEWAY_UPSTREAM_TIMEOUT": "1",
            "GATEWAY_BREAKER_FAIL_MAX": "3",
            "GATEWAY_BREAKER_RESET_SECONDS": "2",
        },
    )
    suite.up()
    yield suite
    suite.down()


@pytest.fixture(scope="module")
def token(suite) -> str:  # type: ignore[no-untyped-def]
    return str(register_and_login(suite)["access"])


def gw(suite, path: str) -> str:  # type: ignore[no-untyped-def]
    return suite.url("api-gateway", path)


def test_a_stopped_service_is_a_fast_503_then_the_breaker_opens_then_closes(
    suite, token: str
) -> None:
    # given todo-service stopped (its port refuses connections)
    assert suite.manage("stop", "todo-service").returncode == 0
    try:
        # when: each answer must come back within 1 s (a slower one raises here)
        failures = [
            requests.get(gw(suite, "/todos"), headers=bearer(token), timeout=1.0) for _ in range(3)
        ]
        refused = requests.get(gw(suite, "/todos"), headers=bearer(token), timeout=1.0)

        # then the failures name the service; the one after FAIL_MAX is the open breaker's
        for response in failures:
            assert response.status_code == 503
            body = response.json()
            assert body["service"] == "todo-service"
            assert body["code"] == "upstream_unavailable"
            assert "Retry-After" not in response.headers
        assert refused.status_code == 503
        assert refused.json()["code"] == "circuit_open"
        assert 1 <= int(refused.headers["Retry-After"]) <= 2
        # and other services' routes still work
        assert requests.get(gw(suite, "/users/me"), headers=bearer(token), timeout=5).ok
    finally:
        assert suite.manage("start", "todo-service").returncode == 0

    # when the reset time has passed, one trial call closes it again
    time.sleep(2.1)
    assert requests.get(gw(suite, "/todos"), headers=bearer(token), timeout=5).status_code == 200


def test_a_frozen_service_is_a_504_within_the_timeout_plus_half_a_second(suite, token: str) -> None:
    # given todo-service's processes stopped (SIGSTOP): connections are accepted, never answered
    group = suite.pids()["todo-service"]
    os.killpg(group, signal.SIGSTOP)
    try:
        response = requests.get(gw(suite, "/todos"), headers=bearer(token), timeout=1.5)
    finally:
        os.killpg(group, signal.SIGCONT)

    assert response.status_code == 504
    assert response.json()["service"] == "todo-service"
    assert response.json()["code"] == "upstream_timeout"


def test_with_redis_stopped_the_gateway_fails_open(suite, token: str) -> None:
    assert suite.manage("stop", "redis").returncode == 0
    try:
        responses = [requests.get(gw(suite, "/.well-known/jwks.json"), timeout=5) for _ in range(3)]
    finally:
        assert suite.manage("start", "redis").returncode == 0

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert responses[0].headers["X-RateLimit-Limit"] == "60"
    warnings = [
        line
        for line in suite.log_lines("api-gateway")
        if line.get("message") == "rate_limit_redis_unavailable"
    ]
    assert warnings
    assert warnings[0]["level"] == "WARNING"
