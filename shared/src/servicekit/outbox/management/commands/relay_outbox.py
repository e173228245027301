"""``python manage.py relay_outbox``: run the outbox relay until SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from servicekit import tracing
from servicekit.heartbeat import Heartbeat
from servicekit.metrics.exposition import serve_worker_metrics
from servicekit.outbox.relay import Relay
from servicekit.settings import servicekit_settings


class Command(BaseCommand):
    help = "Publish the event outbox: right after each commit, and on a sweep."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="publish what is pending now, then exit"
        )
        parser.add_argument(
            "--heartbeat",
            metavar="PATH",
            help="touch PATH on every turn of the loop (python -m servicekit.heartbeat PATH)",
        )

    def handle(
        self, *args: Any, once: bool = False, heartbeat: str | None = None, **options: Any
    ) -> None:
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            # Finish the batch in hand (its rows get marked), then leave the loop.
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        # Its spans are the relay's own ("todo-relay"), not the service's.
        tracing.start(relay_process_name())
        try:
            relay = Relay(stop=stop, heartbeat=Heartbeat(heartbeat))
            if once:
                count = relay.drain()
                self.stdout.write(f"published {count} event(s)")
                return
            serve_worker_metrics()
            relay.run()
        finally:
            tracing.shutdown()


def relay_process_name() -> str:
    """``todo-service`` -> ``todo-relay``: how the relay appears in traces and logs."""
    return servicekit_settings.SERVICE_NAME.removesuffix("-service") + "-relay"
