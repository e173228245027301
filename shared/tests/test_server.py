"""The server worker's body deadline and its settings (servicekit.server).

The worker under real slow clients is tested end to end (tests/test_slow_clients.py).
"""

from __future__ import annotations

import io
import subprocess
import sys
import time

import gevent
import pytest

from servicekit.server import BodyDeadline


class TrickleBody:
    """A body that arrives a piece at a time, ``pause`` seconds apart."""

    def __init__(self, pieces: list[bytes], pause: float) -> None:
        self.pieces = pieces
        self.pause = pause

    def read(self, size: int = -1) -> bytes:
        gevent.sleep(self.pause)
        return self.pieces.pop(0) if self.pieces else b""


def test_a_body_within_its_deadline_is_read_whole() -> None:
    body = BodyDeadline(io.BytesIO(b"line one\nline two\n"), time.monotonic() + 5)

    assert body.readline() == b"line one\n"
    assert list(body) == [b"line two\n"]
    assert not body.expired


def test_a_read_past_the_deadline_fails_with_timeout_error() -> None:
    body = BodyDeadline(TrickleBody([b"a", b"b", b"c"], pause=0.2), time.monotonic() + 0.3)

    assert body.read(1) == b"a"
    with pytest.raises(TimeoutError, match="request body not received in time"):
        body.read(1)
    assert body.expired
    with pytest.raises(TimeoutError):  # and every later read, at once
        body.read(1)


@pytest.mark.parametrize("value", ["5", "soon", "-1"])
def test_a_client_timeout_not_above_the_head_deadline_stops_gunicorn_with_one_line(
    value: str,
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import servicekit.server"],
        env={"GUNICORN_CLIENT_TIMEOUT": value, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"gunicorn: configuration error: GUNICORN_CLIENT_TIMEOUT: {value!r} "
        "is not a number of seconds > 5 (the request-head deadline)"
    )
