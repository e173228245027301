"""How many rows the outbox holds, and how many are not published yet.

    python -m bench.in_service.outbox_counts   # in todo_project/

Prints ``TOTAL PENDING`` on one line (bench/writes.py, after its runs).
"""

from __future__ import annotations

from . import setup


def main() -> None:
    setup()
    from servicekit.outbox.models import OutboxMessage

    print(OutboxMessage.objects.count(), OutboxMessage.objects.pending().count())


if __name__ == "__main__":
    main()
