"""A real HTTP server in a thread, standing in for a *remote* peer in unit tests.

It records every request and answers each with ``reply(method, path, body)``;
a test scripts the peer's answers (an error status, a slow reply, a dropped
connection) and then reads what reached it. End-to-end tests never use it in
place of one of our services: they start the real processes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

import pytest

# (status, JSON body) or (status, JSON body, extra headers)
Reply = tuple[int, Any] | tuple[int, Any, dict[str, str]]
ReplyFunction = Callable[[str, str, Any], Reply]


class DropConnection(Exception):
    """Raise it from a reply function: the peer closes the connection without answering."""


class ReceivedRequest(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class HttpPeer:
    """A local HTTP/1.1 server answering each JSON request with ``reply(method, path, body)``."""

    def __init__(self, reply: ReplyFunction) -> None:
        self.reply = reply
        self.requests: list[ReceivedRequest] = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                peer.requests.append(
                    ReceivedRequest(self.command, self.path, dict(self.headers), body)
                )
                try:
                    status, payload, *extra = peer.reply(self.command, self.path, body)
                except DropConnection:
                    self.close_connection = True
                    return
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (extra[0] if extra else {}).items():
                    self.send_header(name, value)
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


def ok(method: str, path: str, body: Any) -> Reply:
    return 200, {"ok": True}


@pytest.fixture
def http_peers() -> Iterator[Callable[..., HttpPeer]]:
    """Start peers with ``http_peers(reply)``; fresh breakers, and every peer stopped after."""
    from servicekit import http  # not at import time: this module is a pytest plugin

    started: list[HttpPeer] = []

    def make(reply: ReplyFunction = ok) -> HttpPeer:
        peer = HttpPeer(reply)
        started.append(peer)
        return peer

    http.reset_breakers()
    yield make
    http.reset_breakers()
    for peer in started:
        peer.close()
