"""``python manage.py relay_outbox``: run the outbox relay until SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from servicekit.outbox.relay import Relay


class Command(BaseCommand):
    help = "Publish the event outbox: right after each commit, and on a sweep."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="publish what is pending now, then exit"
        )

    def handle(self, *args: Any, once: bool = False, **options: Any) -> None:
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            # Finish the batch in hand (its rows get marked), then leave the loop.
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        relay = Relay(stop=stop)
        if once:
            count = relay.drain()
            self.stdout.write(f"published {count} event(s)")
            return
        relay.run()
