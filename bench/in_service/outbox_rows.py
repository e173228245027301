"""Outbox rows in one transaction, then relays woken; prints the commit time.

    python -m bench.in_service.outbox_rows --count N --tag TAG --relays R   # in todo_project/

N ``todo.completed`` rows in the outbox (envelopes built and validated as
``emit_event`` does), committed in one transaction; then R waiting relays are
woken, as R commits would wake them (each wakes one). Prints the commit time in
seconds since the epoch: where bench/relay.py starts its clock.
"""

from __future__ import annotations

import argparse
import time

from . import setup
from .envelopes import completed_envelopes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, required=True, help="outbox rows")
    parser.add_argument("--tag", required=True, help="the todos' titles' prefix")
    parser.add_argument("--relays", type=int, required=True, help="relays to wake")
    args = parser.parse_args(argv)
    setup()
    from django.db import transaction
    from servicekit.outbox.models import OutboxMessage
    from servicekit.outbox.services import wake_relay

    rows = [
        OutboxMessage(
            event_id=envelope["id"],
            event_type=envelope["type"],
            subject=envelope["subject"],
            envelope=envelope,
        )
        for envelope in completed_envelopes(args.count, 1, args.tag)
    ]
    with transaction.atomic():
        OutboxMessage.objects.bulk_create(rows, batch_size=2000)
    committed = time.time()
    for _ in range(args.relays):
        wake_relay()
    print(committed)


if __name__ == "__main__":
    main()
