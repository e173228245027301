"""The outbound client against real local HTTP servers: answers, errors, retries, breaker."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from servicekit import http
from servicekit.context import request_id_var

Reply = tuple[int, Any]


class Peer:
    """A local HTTP server answering each request with ``reply(method, path, body)``."""

    def __init__(self, reply: Callable[[str, str, Any], Reply]) -> None:
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                peer.requests.append((self.command, self.path, dict(self.headers), body))
                status, payload = reply(self.command, self.path, body)
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def peers() -> Iterator[Callable[..., Peer]]:
    started: list[Peer] = []

    def make(reply: Callable[[str, str, Any], Reply] = lambda m, p, b: (200, {"ok": True})) -> Peer:
        peer = Peer(reply)
        started.append(peer)
        return peer

    http.reset_breakers()
    yield make
    http.reset_breakers()
    for peer in started:
        peer.close()


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
    assert peer.requests[-1][2]["Idempotency-Key"] == "saga-1"


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
