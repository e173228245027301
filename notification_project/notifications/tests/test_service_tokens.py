"""The service-token client against a real HTTP server that answers like user-service's /auth/token.

The server is a test double of the *peer* (a few lines of ``http.server``);
the end-to-end tests in ``tests/`` ask the real user-service for a token the same way.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

import pytest
from servicekit.testing import free_port

from notifications.integrations.service_tokens import (
    ServiceTokenClient,
    ServiceTokenError,
    service_token_client,
)


@dataclass
class TokenEndpoint:
    """What the fake user-service saw, and how it answers."""

    url: str
    expires_in: int = 300
    status: int = 200
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    state = TokenEndpoint(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
            with state.lock:
                state.requests.append(
                    {
                        "path": self.path,
                        "scheme": scheme,
                        "client_id": unquote(client_id),
                        "secret": unquote(secret),
                        "form": {k: v[0] for k, v in parse_qs(body).items()},
                    }
                )
                number = len(state.requests)
            time.sleep(state.delay)
            if state.status == 200:
                answer = {"access_token": f"token-{number}", "expires_in": state.expires_in}
            else:
                answer = {
                    "detail": "Unknown client or wrong client secret.",
                    "code": "invalid_client",
                }
            payload = json.dumps({**answer, "token_type": "Bearer", "scope": "users:read"})
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port() -> int:
    return free_port()  # nobody listens on it: connecting is refused


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(base_urls: Any, clock: Clock | None = None, **kwargs: Any) -> ServiceTokenClient:
    return ServiceTokenClient(
        base_urls=base_urls,
        client_id="notification-service",
        client_secret="s3cret:with/odd chars",
        clock=clock or Clock(),
        **kwargs,
    )


def test_the_client_sends_its_credentials_and_caches_the_token(endpoint: TokenEndpoint) -> None:
    client = make_client(endpoint.url)

    first, second = client.token(), client.headers()

    assert first == "token-1"
    assert second == {"Authorization": "Bearer token-1"}
    (request,) = endpoint.requests
    assert request["path"] == "/auth/token"
    assert request["scheme"] == "Basic"
    assert (request["client_id"], request["secret"]) == (
        "notification-service",
        "s3cret:with/odd chars",
    )
    assert request["form"] == {"grant_type": "client_credentials"}


def test_a_new_token_is_fetched_shortly_before_the_old_one_expires(
    endpoint: TokenEndpoint,
) -> None:
    clock = Clock()
    client = make_client(endpoint.url, clock, refresh_margin=30)
    assert client.token() == "token-1"

    clock.now += 269  # 31 s left: still the cached one
    assert client.token() == "token-1"
    clock.now += 2  # 29 s left: inside the margin
    assert client.token() == "token-2"
    assert len(endpoint.requests) == 2


def test_short_lifetimes_refresh_at_half_life(endpoint: TokenEndpoint) -> None:
    endpoint.expires_in = 10
    clock = Clock()
    client = make_client(endpoint.url, clock, refresh_margin=30)
    client.token()

    clock.now += 4.9
    assert client.token() == "token-1"
    clock.now += 0.2
    assert client.token() == "token-2"


def test_concurrent_callers_share_one_fetch(endpoint: TokenEndpoint) -> None:
    endpoint.delay = 0.2  # a slow user-service: every thread arrives while the first waits
    client = make_client(endpoint.url)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(client.token())) for _ in range(8)]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == ["token-1"] * 8
    assert len(endpoint.requests) == 1


def test_refused_credentials_raise_a_clear_error(endpoint: TokenEndpoint) -> None:
    endpoint.status = 401

    with pytest.raises(ServiceTokenError, match=r"HTTP 401 \(invalid_client\)") as raised:
        make_client(endpoint.url).token()

    assert "s3cret" not in str(raised.value)


def test_an_unreachable_instance_is_skipped(endpoint: TokenEndpoint, closed_port: int) -> None:
    client = make_client([f"http://127.0.0.1:{closed_port}", endpoint.url])

    assert client.token() == "token-1"


def test_nobody_answering_is_an_error(closed_port: int) -> None:
    with pytest.raises(ServiceTokenError, match="ConnectionError"):
        make_client(f"http://127.0.0.1:{closed_port}").token()


def test_a_failed_refresh_keeps_using_a_token_that_has_not_expired(
    endpoint: TokenEndpoint,
) -> None:
    clock = Clock()
    client = make_client(endpoint.url, clock)
    client.token()
    endpoint.status = 503

    clock.now += 290  # inside the margin, not yet expired
    assert client.token() == "token-1"
    clock.now += 20  # expired: nothing to fall back on
    with pytest.raises(ServiceTokenError, match="HTTP 503"):
        client.token()


def test_invalidate_forgets_the_token(endpoint: TokenEndpoint) -> None:
    client = make_client(endpoint.url)
    client.token()

    client.invalidate()

    assert client.token() == "token-2"


def test_the_process_client_comes_from_the_settings(endpoint: TokenEndpoint, settings: Any) -> None:
    settings.USER_SERVICE_URLS = [endpoint.url]
    settings.SERVICE_CLIENT_ID = "another-client"
    settings.SERVICE_CLIENT_SECRET = "another-secret"

    client = service_token_client()

    assert client is service_token_client()
    assert client.token() == "token-1"
    assert endpoint.requests[0]["client_id"] == "another-client"


def test_a_missing_setting_is_named(settings: Any) -> None:
    settings.SERVICE_CLIENT_SECRET = ""

    with pytest.raises(ServiceTokenError, match="SERVICE_CLIENT_SECRET"):
        service_token_client()
