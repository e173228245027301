"""Real HTTP peers for the gateway to talk to, and settings pointing at them.

A :class:`FakeUpstream` is a generic HTTP server in a thread (fault injection,
not a copy of any service): it records what reached it and answers as a test
tells it to, slowly, with an error status, or with garbage. Refused
connections are real too: a port nobody listens on.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from servicekit.redis import get_redis

from gateway import upstreams


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Behaviour = Callable[["Handler"], None]


@dataclass
class FakeUpstream:
    host: str = "127.0.0.1"
    port_wanted: int = 0
    received: list[Received] = field(default_factory=list)
    behaviour: Behaviour | None = None

    def __post_init__(self) -> None:
        fake = self

        class BoundHandler(Handler):
            upstream = fake

        self.server = ThreadingHTTPServer((self.host, self.port_wanted), BoundHandler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}"

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Handler(BaseHTTPRequestHandler):
    upstream: FakeUpstream
    protocol_version = "HTTP/1.1"  # keep-alive, like gunicorn
    disable_nagle_algorithm = True  # headers and body are separate writes

    def handle_one_request_body(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.upstream.received.append(
            Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )
        if self.upstream.behaviour is not None:
            self.upstream.behaviour(self)
        else:
            self.reply(200, {"path": self.path, "method": self.command})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one_request_body

    def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def make_upstream() -> Iterator[Callable[..., FakeUpstream]]:
    started: list[FakeUpstream] = []

    def make(host: str = "127.0.0.1", port: int = 0) -> FakeUpstream:
        upstream = FakeUpstream(host=host, port_wanted=port)
        started.append(upstream)
        return upstream

    yield make
    for upstream in started:
        upstream.close()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def fresh_gateway_state() -> Iterator[None]:
    """No pools, breakers, ejections or rate-limit counters carried between tests."""
    from gateway.ratelimit import KEY_PREFIX, limiter

    def clear() -> None:
        upstreams.reset()
        limiter.reset()
        client = get_redis()
        keys = list(client.scan_iter(f"{KEY_PREFIX}*"))
        if keys:
            client.delete(*keys)

    clear()
    yield
    clear()


@pytest.fixture
def todo(make_upstream: Callable[..., FakeUpstream], settings: Any) -> FakeUpstream:
    """A fake todo-service that the gateway's settings point at."""
    upstream = make_upstream()
    settings.UPSTREAMS = {**settings.UPSTREAMS, "todo-service": [upstream.url]}
    return upstream


@pytest.fixture
def user(make_upstream: Callable[..., FakeUpstream], settings: Any) -> FakeUpstream:
    upstream = make_upstream()
    settings.UPSTREAMS = {**settings.UPSTREAMS, "user-service": [upstream.url]}
    return upstream
