"""The HTTP server worker every service runs: gunicorn's gevent worker, with deadlines.

Why gevent (docs/decisions/0008-http-server-for-slow-clients.md): a threaded
worker reads each request inside one of its few threads, so a handful of
clients that send their request a byte at a time hold every thread and the
service stops answering anyone. Here each connection is a greenlet, which
costs a few kilobytes; thousands of slow or idle connections wait side by side
while the others are served. gunicorn still parses HTTP; this module only
puts deadlines on the connection:

- the request head (request line and headers) must be complete within
  gunicorn's ``keepalive`` seconds (:data:`HEAD_TIMEOUT`), on a new connection
  as on a kept-alive one (gunicorn's own deadline); a connection that had not sent its first request
  by then is logged once (``client_cut_off``) and closed;
- the body must be complete within ``GUNICORN_CLIENT_TIMEOUT`` seconds (default
  8) of its head: a read past that fails, Django raises ``UnreadablePostError``
  and :class:`servicekit.middleware.BodySizeLimitMiddleware` answers 408, which
  the access log records;
- no read or write on the connection may wait longer than that either (a
  client that stops reading its response is logged once and closed).

``servicekit.gunicorn`` (each project's ``gunicorn.conf.py``) selects this worker
and monkey-patches the standard library for gevent before Django is loaded.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import gevent
from gevent.local import local
from gunicorn.workers.base_async import AsyncWorker
from gunicorn.workers.ggevent import GeventWorker

logger = logging.getLogger("servicekit.server")

# Seconds a client has to send a request head (servicekit.gunicorn's ``keepalive``).
HEAD_TIMEOUT = 5


def client_timeout() -> float:
    """``GUNICORN_CLIENT_TIMEOUT`` in seconds, or one clear line and exit 2.

    It must be longer than the head deadline: an idle kept-alive connection is
    closed by that deadline, not by a failing read.
    """
    raw = os.environ.get("GUNICORN_CLIENT_TIMEOUT", "") or "8"
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not seconds > HEAD_TIMEOUT:
        sys.exit(
            "gunicorn: configuration error: GUNICORN_CLIENT_TIMEOUT: "
            f"{raw!r} is not a number of seconds > {HEAD_TIMEOUT} (the request-head deadline)"
        )
    return seconds


class BodyDeadline:
    """``wsgi.input`` whose reads fail with ``TimeoutError`` once the deadline has passed."""

    def __init__(self, body: Any, deadline: float) -> None:
        self.body = body
        self.deadline = deadline
        self.expired = False

    def _bounded(self, read: Callable[..., bytes], *args: Any) -> bytes:
        remaining = self.deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError("request body not received in time")
            with gevent.Timeout(remaining, TimeoutError("request body not received in time")):
                return read(*args)
        except TimeoutError:
            self.expired = True
            raise

    def read(self, *args: Any) -> bytes:
        return self._bounded(self.body.read, *args)

    def readline(self, *args: Any) -> bytes:
        return self._bounded(self.body.readline, *args)

    def readlines(self, *args: Any) -> list[bytes]:
        lines = []
        while line := self.readline():
            lines.append(line)
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


class EdgeWorker(GeventWorker):
    """gunicorn's gevent worker with deadlines for slow clients and a log line per cut-off."""

    client_timeout = client_timeout()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per connection (each is its own greenlet): the requests it has sent so far.
        self.connection = local()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        app = self.wsgi

        def body_deadline(
            environ: MutableMapping[str, Any],
            start_response: Callable[[str, Iterable[tuple[str, str]]], None],
        ) -> Iterable[bytes]:
            # The body must arrive within client_timeout seconds of its head.
            body = BodyDeadline(environ["wsgi.input"], time.monotonic() + self.client_timeout)
            environ["wsgi.input"] = self.connection.body = body
            return app(environ, start_response)

        self.wsgi = body_deadline

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        # gevent's worker would make the socket block forever; a timeout instead
        # bounds every read and write on the connection.
        client.settimeout(self.client_timeout)
        self.connection.requests = 0
        self.connection.peer = addr
        self.connection.body = None
        AsyncWorker.handle(self, listener, client, addr)

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        self.connection.requests += 1
        try:
            result = super().handle_request(listener_name, req, sock, addr)
        except TimeoutError:
            # A read or write on the socket waited past the deadline (the client
            # stopped reading its response): one line, then gunicorn closes.
            _cut_off("connection stalled", self.client_timeout, addr)
            raise StopIteration from None
        if self.connection.body is not None and self.connection.body.expired:
            raise StopIteration  # answered 408: the rest of that body is not waited for
        return result

    @contextmanager  # (the gunicorn stubs say it returns None; gunicorn uses it in a with)
    def timeout_ctx(self) -> Iterator[None]:  # type: ignore[override]
        """The request-head deadline (``keepalive`` seconds); gunicorn closes the connection
        when it passes. Logged when the connection never completed a request: a client
        that idles between requests is ordinary, one that cannot send its first is not."""
        deadline = gevent.Timeout(self.cfg.keepalive)
        deadline.start()
        try:
            yield
        except gevent.Timeout as passed:
            if passed is not deadline:
                raise
            if self.connection.requests == 0:
                _cut_off(
                    "request head not received in time", self.cfg.keepalive, self.connection.peer
                )
        finally:
            deadline.close()


def _cut_off(reason: str, seconds: float, addr: Any) -> None:
    client = f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) and len(addr) >= 2 else str(addr)
    logger.warning("client_cut_off", extra={"reason": reason, "seconds": seconds, "client": client})
