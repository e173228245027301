"""``todo.completed`` events published straight to the notification worker's queue.

    python -m bench.in_service.publish_completed --count N --user ID --tag TAG   # in todo_project/

N ``todo.completed`` events of a user published straight to the notification
worker's queue, as the outbox relay publishes them
(``servicekit.outbox.publisher``), with no outbox row: bench/notifications.py
measures the worker alone.
"""

from __future__ import annotations

import argparse

from . import setup
from .envelopes import completed_envelopes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, required=True, help="events")
    parser.add_argument("--user", type=int, required=True, help="the user the emails go to")
    parser.add_argument("--tag", required=True, help="the todos' titles' prefix")
    args = parser.parse_args(argv)
    setup()
    from servicekit.outbox import publisher

    with publisher.publishing() as publish:
        for envelope in completed_envelopes(args.count, args.user, args.tag):
            publish(envelope)


if __name__ == "__main__":
    main()
