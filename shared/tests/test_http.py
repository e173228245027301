"""The outbound client against real local HTTP servers: answers, errors, retries, breaker."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from servicekit import http
from servicekit.context import request_id_var
from servicekit.testing.peers import DropConnection, HttpPeer

Reply = tuple[int, Any]


@pytest.fixture
def peers(http_peers: Callable[..., HttpPeer]) -> Callable[..., HttpPeer]:
    return http_peers


def test_a_call_returns_the_decoded_json_and_passes_the_request_id(peers) -> None:
    peer = peers(lambda m, p, b: (200, {"echo": b}))
    client = http.HttpClient("user-service", peer.url, token=lambda: "service-token")
    reset = request_id_var.set("req-9")
    try:
        result = client.post("/internal/things", json={"a": 1})
    finally:
        request_id_var.reset(reset)

    assert result == {"echo": {"a": 1}}
    _, path, headers, _ = peer.requests[0]
    assert path == "/internal/things"
    assert headers["X-Request-ID"] == "req-9"
    assert headers["Authorization"] == "Bearer service-token"


def test_an_error_answer_becomes_a_typed_exception_with_the_services_words(peers) -> None:
    peer = peers(lambda m, p, b: (404, {"detail": "No such user.", "code": "not_found"}))
    client = http.HttpClient("user-service", peer.url)

    with pytest.raises(http.UpstreamNotFound) as caught:
        client.get("/internal/users/5")

    assert caught.value.status == 404
    assert caught.value.upstream_code == "not_found"
    assert caught.value.service == "user-service"
    assert "No such user." in str(caught.value.detail)


def test_a_refused_connection_is_upstream_unavailable(closed_port: int) -> None:
    client = http.HttpClient("user-service", f"http://127.0.0.1:{closed_port}", retries=0)

    with pytest.raises(http.UpstreamUnavailable) as caught:
        client.get("/x")

    assert caught.value.status_code == 503
    assert "refused" in str(caught.value.detail)


def test_a_slow_answer_is_a_timeout_and_not_retried(peers) -> None:
    release = threading.Event()

    def slow(method: str, path: str, body: Any) -> Reply:
        release.wait(5)
        return 200, {}

    peer = peers(slow)
    client = http.HttpClient("user-service", peer.url, read_timeout=0.2)
    try:
        with pytest.raises(http.UpstreamTimeout):
            client.get("/slow")
    finally:
        release.set()

    assert len(peer.requests) == 1


def test_a_get_is_retried_on_the_next_instance(peers) -> None:
    failing = peers(lambda m, p, b: (503, {"detail": "busy"}))
    healthy = peers()
    client = http.HttpClient("todo-service", [failing.url, healthy.url])

    assert client.get("/todos") == {"ok": True}
    assert len(failing.requests) == 1
    assert len(healthy.requests) == 1


def test_a_post_without_a_key_is_sent_once_and_with_a_key_retried(peers) -> None:
    peer = peers(lambda m, p, b: (503, {"detail": "busy"}))
    client = http.HttpClient("todo-service", peer.url, retries=2)

    with pytest.raises(http.UpstreamResponseError):
        client.post("/todos", json={})
    assert len(peer.requests) == 1

    with pytest.raises(http.UpstreamResponseError) as caught:
        client.post("/todos", json={}, idempotency_key="saga-1")
    assert len(peer.requests) == 4
    assert caught.value.status == 503
    assert peer.requests[-1].headers["Idempotency-Key"] == "saga-1"


def test_the_breaker_opens_and_then_refuses_without_calling(peers, settings) -> None:
    settings.SERVICEKIT = {**settings.SERVICEKIT, "HTTP_BREAKER_FAIL_MAX": 2}
    http.reset_breakers()
    peer = peers(lambda m, p, b: (503, {"detail": "down"}))
    client = http.HttpClient("notification-service", peer.url, retries=0)

    for _ in range(2):
        with pytest.raises(http.UpstreamResponseError):
            client.get("/x")
    with pytest.raises(http.UpstreamUnavailable) as caught:
        client.get("/x")

    assert caught.value.get_codes() == "circuit_open"
    assert len(peer.requests) == 2
    # and every client of that service in the process shares the breaker
    assert http.HttpClient("notification-service", peer.url).breaker is client.breaker


def test_a_503_with_retry_after_is_the_services_error_but_leaves_the_breaker_closed(
    peers, settings
) -> None:
    # given a service that is up but cannot reach its database
    settings.SERVICEKIT = {**settings.SERVICEKIT, "HTTP_BREAKER_FAIL_MAX": 2}
    http.reset_breakers()
    answers = {"down": True}

    def database_blip(method: str, path: str, body: Any) -> Any:
        if answers["down"]:
            return 503, {"code": "database_unavailable"}, {"Retry-After": "1"}
        return 200, {"ok": True}

    peer = peers(database_blip)
    client = http.HttpClient("user-service", peer.url, retries=0)

    # when more calls than the breaker's limit get that answer, each raises it
    for _ in range(3):
        with pytest.raises(http.UpstreamResponseError) as caught:
            client.get("/internal/users/1")
        assert caught.value.upstream_code == "database_unavailable"

    # then the breaker stayed closed: the first call after the blip reaches the service
    answers["down"] = False
    assert client.get("/internal/users/1") == {"ok": True}
    assert len(peer.requests) == 4


def test_failing_to_get_a_token_counts_against_the_upstreams_breaker(peers, settings) -> None:
    # given an upstream whose token endpoint is down (the token callable fails)
    settings.SERVICEKIT = {**settings.SERVICEKIT, "HTTP_BREAKER_FAIL_MAX": 2}
    http.reset_breakers()
    peer = peers(lambda m, p, b: (200, {"ok": True}))

    def token() -> str:
        raise ConnectionError("user-service refused the connection")

    client = http.HttpClient("user-service", peer.url, retries=0, token=token)

    # when calls keep failing for want of a token
    for _ in range(2):
        with pytest.raises(ConnectionError):
            client.get("/internal/users/1")
    with pytest.raises(http.UpstreamUnavailable) as caught:
        client.get("/internal/users/1")

    # then the breaker opened, and the upstream was never called without a token
    assert caught.value.get_codes() == "circuit_open"
    assert peer.requests == []


def test_whether_the_request_was_sent_is_known_to_the_caller(peers, closed_port: int) -> None:
    # A caller undoing work (a saga's compensation) must know whether the
    # service may have carried a failed call out: only "never connected" is sure.
    refused = http.HttpClient("todo-service", f"http://127.0.0.1:{closed_port}", retries=0)
    with pytest.raises(http.UpstreamUnavailable) as never_sent:
        refused.post("/internal/users/7/erase", json={})

    def drop(method: str, path: str, body: Any) -> Reply:
        raise DropConnection

    dropping = peers(drop)
    closing = http.HttpClient("notification-service", dropping.url, retries=0)
    with pytest.raises(http.UpstreamUnavailable) as maybe_sent:
        closing.post("/internal/users/7/erase", json={})

    assert never_sent.value.request_sent is False
    assert "refused" in str(never_sent.value.detail)
    assert maybe_sent.value.request_sent is True
    assert len(dropping.requests) == 1


def test_an_open_breaker_says_nothing_was_sent(peers, settings) -> None:
    settings.SERVICEKIT = {**settings.SERVICEKIT, "HTTP_BREAKER_FAIL_MAX": 1}
    http.reset_breakers()
    peer = peers(lambda m, p, b: (503, {"detail": "down"}))
    client = http.HttpClient("todo-service", peer.url, retries=0)
    with pytest.raises(http.UpstreamResponseError) as answered:
        client.post("/x", json={})

    with pytest.raises(http.UpstreamUnavailable) as open_breaker:
        client.post("/x", json={})

    assert answered.value.request_sent is True
    assert open_breaker.value.request_sent is False
    assert len(peer.requests) == 1
