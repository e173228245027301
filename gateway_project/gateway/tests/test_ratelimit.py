"""Rate limits: per user, per IP, on login; the headers; Redis down means fail open."""

from __future__ import annotations

import logging
from typing import Any

from django.test import Client
from prometheus_client import REGISTRY
from servicekit.testing import TokenFactory

from gateway.tests.conftest import FakeUpstream
from gateway.tests.helpers import bearer


def test_every_proxied_response_tells_the_quota(
    client: Client, token_factory: TokenFactory, todo: FakeUpstream
) -> None:
    response = client.get("/todos", headers=bearer(token_factory.access(7)))

    assert response["X-RateLimit-Limit"] == "600"
    assert response["X-RateLimit-Remaining"] == "599"
    assert response["RateLimit-Policy"] == '"user";q=600;w=60'
    assert response["RateLimit"].startswith('"user";r=599;t=')


def test_over_the_user_limit_is_429_with_retry_after_and_no_upstream_call(
    client: Client, token_factory: TokenFactory, todo: FakeUpstream, settings: Any
) -> None:
    settings.GATEWAY_RATE_LIMIT = (2, 60)
    ann, bob = token_factory.access(1), token_factory.access(2)
    rejected = _rejections("user")

    statuses = [client.get("/todos", headers=bearer(ann)).status_code for _ in range(3)]
    limited = client.get("/todos", headers=bearer(ann))

    assert statuses == [200, 200, 429]
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited["RateLimit-Policy"] == '"user";q=2;w=60'
    assert limited["RateLimit"] == f'"user";r=0;t={limited["Retry-After"]}'
    assert limited["X-RateLimit-Remaining"] == "0"
    assert len(todo.received) == 2
    assert _rejections("user") == rejected + 2  # both 429s, as /metrics shows them
    # another user has a quota of their own
    assert client.get("/todos", headers=bearer(bob)).status_code == 200


def test_anonymous_requests_are_limited_per_ip_and_login_more_strictly(
    client: Client, user: FakeUpstream, settings: Any
) -> None:
    settings.GATEWAY_ANON_RATE_LIMIT = (3, 60)
    settings.GATEWAY_LOGIN_RATE_LIMIT = (1, 60)

    logins = [
        client.post("/auth/login", data={}, content_type="application/json") for _ in range(2)
    ]
    registers = [client.post("/auth/register", data={}, content_type="application/json")]
    other_ip = client.post(
        "/auth/login", data={}, content_type="application/json", REMOTE_ADDR="10.0.0.9"
    )

    assert [r.status_code for r in logins] == [200, 429]
    assert logins[1]["RateLimit-Policy"] == '"login";q=1;w=60'
    assert registers[0].status_code == 200
    assert registers[0]["RateLimit-Policy"] == '"ip";q=3;w=60'
    assert other_ip.status_code == 200


def test_with_redis_down_the_gateway_fails_open_with_a_local_limit_and_a_warning(
    client: Client,
    token_factory: TokenFactory,
    todo: FakeUpstream,
    settings: Any,
    closed_port: int,
    caplog,
) -> None:
    # given Redis refusing connections
    settings.SERVICEKIT = {**settings.SERVICEKIT, "REDIS_URL": f"redis://127.0.0.1:{closed_port}/0"}
    settings.GATEWAY_RATE_LIMIT = (2, 60)
    caplog.set_level(logging.WARNING, logger="gateway.ratelimit")
    token = token_factory.access(3)

    # then requests still pass, counted in process memory
    statuses = [client.get("/todos", headers=bearer(token)).status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert [r.message for r in caplog.records] == ["rate_limit_redis_unavailable"]


def _rejections(policy: str) -> float:
    value = REGISTRY.get_sample_value("gateway_rate_limit_rejections_total", {"policy": policy})
    return value or 0.0
