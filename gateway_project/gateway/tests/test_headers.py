"""Header hygiene, forwarding headers, body limit, request id and trace context."""

from __future__ import annotations

import re

from django.test import Client
from servicekit.testing import TokenFactory

from gateway.tests.conftest import FakeUpstream, Handler
from gateway.tests.helpers import bearer


def test_hop_by_hop_and_spoofed_headers_are_replaced_by_the_gateways_own(
    client: Client, token_factory: TokenFactory, todo: FakeUpstream
) -> None:
    # when a client sends hop-by-hop headers and claims to be someone (somewhere) else
    client.get(
        "/todos",
        headers={
            **bearer(token_factory.access(7)),
            "Connection": "keep-alive, X-Secret-Hop",
            "X-Secret-Hop": "1",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Upgrade": "websocket",
            "Proxy-Authorization": "Basic eDp5",
            "X-User-ID": "1",
            "X-Forwarded-For": "10.6.6.6",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Port": "443",
            "Forwarded": "for=10.6.6.6",
            "X-Custom": "kept",
        },
    )

    # then the service sees none of it, and what the gateway vouches for
    headers = todo.received[0].headers
    for name in ["x-secret-hop", "keep-alive", "te", "upgrade", "proxy-authorization"]:
        assert name not in headers, name
    assert "forwarded" not in headers
    assert "x-forwarded-port" not in headers
    assert headers["x-user-id"] == "7"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-host"] == "testserver"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-custom"] == "kept"
    assert headers["host"] == todo.url.removeprefix("http://")


def test_anonymous_requests_carry_no_user_id(client: Client, user: FakeUpstream) -> None:
    client.post("/auth/login", data={}, content_type="application/json", headers={"X-User-ID": "1"})

    assert "x-user-id" not in user.received[0].headers


def test_hop_by_hop_response_headers_stay_behind(
    client: Client, token_factory: TokenFactory, todo: FakeUpstream
) -> None:
    def answer(handler: Handler) -> None:
        handler.reply(
            201,
            {"id": 1},
            {"Connection": "X-Internal", "X-Internal": "secret", "Location": "/todos/1"},
        )

    todo.behaviour = answer

    response = client.post(
        "/todos",
        data={"title": "a"},
        content_type="application/json",
        headers=bearer(token_factory.access(7)),
    )

    assert response.status_code == 201
    assert response.json() == {"id": 1}
    assert response["Location"] == "/todos/1"
    assert "X-Internal" not in response
    assert "Connection" not in response
    assert todo.received[0].body == b'{"title": "a"}'
    assert todo.received[0].headers["content-type"] == "application/json"


def test_request_id_and_traceparent_are_passed_on(
    client: Client, token_factory: TokenFactory, todo: FakeUpstream
) -> None:
    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    response = client.get(
        "/todos",
        headers={
            **bearer(token_factory.access(7)),
            "X-Request-ID": "req-123",
            "traceparent": incoming,
        },
    )

    assert response["X-Request-ID"] == "req-123"
    assert todo.received[0].headers["x-request-id"] == "req-123"
    assert todo.received[0].headers["traceparent"] == incoming


def test_an_invalid_or_missing_traceparent_is_replaced_by_a_new_one(
    client: Client, token_factory: TokenFactory, todo: FakeUpstream
) -> None:
    for sent in ["00-" + "0" * 32 + "-b7ad6b7169203331-01", "garbage", None]:
        headers = bearer(token_factory.access(7))
        if sent:
            headers["traceparent"] = sent
        client.get("/todos", headers=headers)

    created = [r.headers["traceparent"] for r in todo.received]
    for value in created:
        assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", value)
        assert "0" * 32 not in value
    assert len(set(created)) == 3
    assert all(r.headers["x-request-id"] for r in todo.received)


def test_a_body_over_the_limit_is_413_and_never_forwarded(
    client: Client, token_factory: TokenFactory, todo: FakeUpstream, settings
) -> None:
    settings.SERVICEKIT = {**settings.SERVICEKIT, "MAX_BODY_BYTES": 100}

    response = client.post(
        "/todos",
        data="x" * 101,
        content_type="application/json",
        headers=bearer(token_factory.access(7)),
    )

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert todo.received == []


def test_every_request_writes_one_access_log_line_naming_upstream_and_instance(
    client: Client, token_factory: TokenFactory, todo: FakeUpstream, caplog
) -> None:
    caplog.set_level("INFO", logger="servicekit.access")

    client.get("/todos", headers={**bearer(token_factory.access(9)), "X-Request-ID": "log-me"})

    [record] = [r for r in caplog.records if r.name == "servicekit.access"]
    assert record.method == "GET"
    assert record.path == "/todos"
    assert record.status == 200
    assert record.upstream == "todo-service"
    assert record.instance == todo.url
    assert record.user_id == 9
    assert record.request_id == "log-me"
    assert record.duration_ms >= 0
