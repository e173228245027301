"""Real servers the tests talk to: an SMTP sink and an HTTP peer answering like user-service;
and notifications made directly, for the API tests.

Both run in the test process (threads) on free ports, so a worker started as
a subprocess reaches them exactly as it would reach the real ones.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from servicekit.testing import free_port

from notifications.models import Notification

_notification_numbers = itertools.count(1)


def make_notification(user_id: int, **fields: Any) -> Notification:
    """A ``todo.completed`` notification of ``user_id`` (``pending`` unless ``status`` says)."""
    number = next(_notification_numbers)
    return Notification.objects.create(
        event_id=f"00000000-0000-4000-8000-{number:012d}",
        event_type="todo.completed",
        envelope={},
        user_id=user_id,
        recipient=f"user{user_id}@example.com",
        subject=f"Todo completed: todo {number}",
        **fields,
    )


SERVICE_TOKEN = "service-token-for-tests"
CLIENT_ID = "notification-service"
CLIENT_SECRET = "dev-notification-service-secret"


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self.sink.stall_next.is_set():
            # Hold the client in the middle of the conversation (nothing accepted yet).
            self.sink.stall_next.clear()
            self.sink.stalled.set()
            while not self.sink.release.is_set():
                await asyncio.sleep(0.05)
            return "451 try again later"
        with self.sink.lock:
            self.sink.sessions.add(tuple(session.peer))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.sink.lock:
            self.sink.messages.append(message)
        return "250 Message accepted"


@dataclass
class SmtpSink:
    """An aiosmtpd server that keeps every accepted message."""

    port: int = field(default_factory=free_port)
    messages: list[EmailMessage] = field(default_factory=list)
    # The client address of every SMTP session that sent a MAIL command.
    sessions: set[tuple[str, int]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stall_next: threading.Event = field(default_factory=threading.Event)
    stalled: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    _controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        self.release.set()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def received(self) -> list[EmailMessage]:
        with self.lock:
            return list(self.messages)


@dataclass
class UserServiceDouble:
    """Answers ``POST /auth/token`` and ``GET /internal/users/{id}`` as user-service does."""

    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    requests: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_user(self, user_id: int, email: str, *, is_active: bool = True) -> None:
        self.users[user_id] = {
            "id": user_id,
            "username": f"user{user_id}",
            "email": email,
            "is_active": is_active,
        }

    def start(self) -> None:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                double.requests.append(f"POST {self.path}")
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                # client_secret_basic, as integrations/service_tokens.py sends it
                expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                if self.path != "/auth/token" or self.headers.get("Authorization") != (
                    f"Basic {expected}"
                ):
                    self._answer(401, {"detail": "bad client", "code": "authentication_failed"})
                    return
                self._answer(200, {"access_token": SERVICE_TOKEN, "expires_in": 300})

            def do_GET(self) -> None:
                double.requests.append(f"GET {self.path}")
                if self.headers.get("Authorization") != f"Bearer {SERVICE_TOKEN}":
                    self._answer(401, {"detail": "no token", "code": "not_authenticated"})
                    return
                match = re.fullmatch(r"/internal/users/(\d+)", self.path)
                user = double.users.get(int(match.group(1))) if match else None
                if user is None:
                    self._answer(404, {"detail": "Not found.", "code": "not_found"})
                    return
                self._answer(200, user)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass
class Worker:
    """``celery -A config worker -Q notification.events`` as its own process group."""

    project_dir: Path
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "-Q",
                    "notification.events",
                    "--concurrency",
                    "1",
                    "--loglevel",
                    "INFO",
                    "--hostname",
                    f"test-{free_port()}@%h",
                ],
                cwd=self.project_dir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole worker (main process and pool children) and reap it."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
