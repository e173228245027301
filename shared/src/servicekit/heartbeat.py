"""Liveness for a process that serves no HTTP: a file it touches on every turn of its loop.

The outbox relay has no port a health check could call. Started with
``--heartbeat PATH`` it touches ``PATH`` each time its loop comes round (after
a batch, a back-off or a quiet sweep interval alike), and the container's
health check asks whether the file is fresh::

    python manage.py relay_outbox --heartbeat /tmp/relay.alive
    python -m servicekit.heartbeat /tmp/relay.alive --max-age 60   # exit 0 while fresh

A fresh file says the loop turns, not that events get through: a relay that
cannot reach Redis still beats while it backs off, and the outbox lag on
``/health/ready`` (and in /metrics) is what says events are late. Restarting
the relay would not bring Redis back.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

DEFAULT_MAX_AGE_SECONDS = 60.0


class Heartbeat:
    """Touches its file on :meth:`beat`; does nothing when it has no file."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None

    def beat(self) -> None:
        if self.path is None:
            return
        self.path.touch()


def age_seconds(path: str | Path) -> float | None:
    """Seconds since the file was last touched; None when there is no such file."""
    try:
        return time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m servicekit.heartbeat",
        description="Exit 0 if the heartbeat file was touched within --max-age seconds.",
    )
    parser.add_argument("path")
    parser.add_argument("--max-age", type=float, default=DEFAULT_MAX_AGE_SECONDS)
    args = parser.parse_args(argv)
    age = age_seconds(args.path)
    if age is None:
        print(f"heartbeat: {args.path} does not exist (not started yet?)", file=sys.stderr)
        return 1
    if age > args.max_age:
        print(f"heartbeat: {args.path} is {age:.0f}s old (> {args.max_age:g}s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
