"""A big user's todos spread over time and a small user's 20, for bench/reads.py.

    python -m bench.in_service.todo_history --big ID --small ID --count N   # in todo_project/

The todos bench/reads.py reads: the big user's N spread over the last N minutes,
half of them completed and the priorities mixed (so about one in six is open
and high), and the small user's 20, all open and high. They are inserted
straight into the todo database (bulk inserts, no events: nothing reads them
but the benchmark). On PostgreSQL the table is then vacuumed and analysed.
"""

from __future__ import annotations

import argparse
import random
from datetime import datetime, timedelta

from . import setup

SMALL_COUNT = 20


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, required=True, help="the big user's id")
    parser.add_argument("--small", type=int, required=True, help="the small user's id")
    parser.add_argument("--count", type=int, required=True, help="the big user's todos")
    args = parser.parse_args(argv)
    setup()
    from django.db import connection, models, transaction
    from django.utils import timezone

    from todos.models import Priority, Todo

    # Spread over time like real todos, not all stamped with this instant.
    for name in ("created_at", "updated_at"):
        field = Todo._meta.get_field(name)
        assert isinstance(field, models.DateTimeField)  # noqa: S101 - the model says so
        field.auto_now = field.auto_now_add = False
    now = timezone.now()
    rng = random.Random(11)  # noqa: S311 - a data mix, not a secret

    def todo(user_id: int, number: int, total: int, matching: bool) -> Todo:
        completed = False if matching else rng.random() < 0.5
        priority = Priority.HIGH if matching else rng.choice(list(Priority))
        moment: datetime = now - timedelta(minutes=total - number)
        return Todo(
            user_id=user_id,
            title=f"todo {number}",
            completed=completed,
            priority=priority,
            created_at=moment,
            updated_at=moment,
            completed_at=moment if completed else None,
        )

    with transaction.atomic():
        Todo.objects.bulk_create(
            (todo(args.big, number, args.count, False) for number in range(args.count)),
            batch_size=5000,
        )
        Todo.objects.bulk_create(
            todo(args.small, number, SMALL_COUNT, True) for number in range(SMALL_COUNT)
        )
    # What autovacuum does to a table that grew over months: statistics for the planner,
    # and the visibility map that lets COUNT(*) answer from the index alone.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {Todo._meta.db_table}")


if __name__ == "__main__":
    main()
