"""Slow clients cannot take a service away from everyone else.

Against the gateway and against todo-service's own port: a few hundred
connections send their request head a line per second, or a body far slower
than its ``Content-Length``. Meanwhile normal ``GET /todos`` requests keep being
answered within a second, and every slow connection is cut off: a head not
complete within 5 s is closed and logged once (``client_cut_off``), a body not
complete within 8 s is answered 408 and closed (the access log has its line).
The server and its deadlines: ``servicekit.server``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

import pytest
import requests

from gateway_support import bearer, register_and_login
from support import Suite

pytestmark = pytest.mark.e2e

SLOW = 150  # slow heads, and as many slow bodies
HEAD_DEADLINE_S = 5
BODY_DEADLINE_S = 8
# Connections are watched once a second, on a loaded 2-core machine.
SLACK_S = 3


@dataclass
class SlowClients:
    port: int
    token: str
    # kind -> [(local port, seconds until the server closed, first bytes it answered)]
    ended: dict[str, list[tuple[int, float, bytes]]] = field(default_factory=dict)
    opened: threading.Event = field(default_factory=threading.Event)

    async def _one(self, kind: str, head: bytes, dribble: bytes) -> None:
        started = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        local_port = writer.get_extra_info("sockname")[1]
        answer = b""
        try:
            writer.write(head)
            while time.monotonic() - started < BODY_DEADLINE_S + 2 * SLACK_S:
                writer.write(dribble)
                await writer.drain()
                try:
                    chunk = await asyncio.wait_for(reader.read(1024), timeout=1)
                except TimeoutError:
                    continue
                if not chunk:  # closed by the server
                    break
                answer += chunk
        except OSError:
            pass
        self.ended.setdefault(kind, []).append((local_port, time.monotonic() - started, answer))
        writer.close()

    async def _all(self) -> None:
        host = f"Host: 127.0.0.1:{self.port}\r\n".encode()
        auth = f"Authorization: Bearer {self.token}\r\n".encode()
        head = b"GET /todos HTTP/1.1\r\n" + host
        body = (
            b"POST /todos HTTP/1.1\r\n" + host + auth
            + b"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"
        )  # fmt: skip
        tasks = [
            *(self._one("head", head, b"X-Slow: 1\r\n") for _ in range(SLOW)),
            *(self._one("body", body, b" ") for _ in range(SLOW)),
        ]
        running = [asyncio.ensure_future(task) for task in tasks]
        await asyncio.sleep(0.5)
        self.opened.set()
        await asyncio.gather(*running)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=lambda: asyncio.run(self._all()), daemon=True)
        thread.start()
        assert self.opened.wait(timeout=30)
        return thread


@pytest.mark.parametrize("target", ["api-gateway", "todo-service"])
def test_slow_clients_are_cut_off_while_others_are_served(shared_suite: Suite, target: str) -> None:
    token = register_and_login(shared_suite)["access"]
    url = shared_suite.url(target, "/todos")
    assert requests.get(url, headers=bearer(token), timeout=5).status_code == 200

    # given a few hundred slow clients on the target's port
    slow = SlowClients(port=shared_suite.ports[target], token=token)
    attack = slow.start()

    # then normal requests are answered, each within a second, for as long as they dribble
    slowest = 0.0
    answered = 0
    with requests.Session() as session:
        until = time.monotonic() + BODY_DEADLINE_S + SLACK_S
        while time.monotonic() < until:
            started = time.monotonic()
            response = session.get(url, headers=bearer(token), timeout=5)
            slowest = max(slowest, time.monotonic() - started)
            assert response.status_code == 200, response.text
            answered += 1
            time.sleep(0.1)
    assert slowest < 1.0, f"the slowest of {answered} requests took {slowest:.2f} s"

    # and every slow connection was cut off: heads closed, bodies answered 408 and closed
    attack.join(timeout=60)
    heads, bodies = slow.ended["head"], slow.ended["body"]
    assert len(heads) == len(bodies) == SLOW
    assert max(seconds for _, seconds, _ in heads) < HEAD_DEADLINE_S + SLACK_S
    assert max(seconds for _, seconds, _ in bodies) < BODY_DEADLINE_S + SLACK_S
    assert all(answer.startswith(b"HTTP/1.1 408 ") for _, _, answer in bodies)

    # and each is logged once: a client_cut_off line per head, an access line per 408
    head_clients = {f"127.0.0.1:{port}" for port, _, _ in heads}
    lines = shared_suite.log_lines(target)
    cut_off = [
        line["client"]
        for line in lines
        if line.get("message") == "client_cut_off" and line.get("client") in head_clients
    ]
    assert sorted(cut_off) == sorted(head_clients)
    timed_out = [line for line in lines if line.get("status") == 408]
    assert len(timed_out) == SLOW
