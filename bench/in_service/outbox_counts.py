"""``python -m bench.in_service.outbox_counts`` in todo_project.

Prints the outbox's rows and how many of them are not published yet, on one
line: ``TOTAL PENDING`` (bench/writes.py, after its runs).
"""

from __future__ import annotations

from . import setup


def main() -> None:
    setup()
    from servicekit.outbox.models import OutboxMessage

    print(OutboxMessage.objects.count(), OutboxMessage.objects.pending().count())


if __name__ == "__main__":
    main()
