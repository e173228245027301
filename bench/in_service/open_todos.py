"""A user's open todos, inserted straight into the todo database; prints their ids.

    python -m bench.in_service.open_todos --user ID --tag TAG --count N   # in todo_project/

N open todos of a user, titled ``"TAG 0"`` ... ``"TAG N-1"``, inserted in one
transaction straight into the todo database (no events: bench/pipeline.py
completes them through the gateway). Prints their ids as a JSON list, in title
order.
"""

from __future__ import annotations

import argparse
import json

from . import setup


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", type=int, required=True, help="the owner's user id")
    parser.add_argument("--tag", required=True, help="the titles' prefix")
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args(argv)
    setup()
    from django.db import transaction

    from todos.models import Todo

    with transaction.atomic():
        todos = Todo.objects.bulk_create(
            Todo(user_id=args.user, title=f"{args.tag} {number}") for number in range(args.count)
        )
    print(json.dumps([todo.id for todo in todos]))


if __name__ == "__main__":
    main()
