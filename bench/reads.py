"""How reads grow: the first page of GET /todos?completed=false&priority=high for a user
with 100,000 todos vs. one with 20.

The todos are inserted straight into the todo database (bulk insert through the
todo project's ORM; no events, since nothing reads them), spread over time, half
completed and priorities mixed for the big user, so about one in six matches the
filter; the small user's 20 all match. Both first pages hold 20 todos, so the
responses are the same size and only the query differs. ``wrk`` with one
connection fetches each user's page through the gateway, alternating, for
several rounds; the figure is the ratio of the p50 latencies (big / small).

    ./manage-all.sh bench reads [--rounds 5] [--duration 10] [--todos 100000]
"""

from __future__ import annotations

import argparse
import time

from common import Run, Suite, figure, header, require_wrk, sign_up, this_command, wrk

PATH = "/todos?completed=false&priority=high"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--todos", type=int, default=100_000, help="the big user's todos")
    args = parser.parse_args()
    require_wrk()

    with Suite("reads") as suite:
        gateway = suite.url()
        big, small = sign_up(gateway), sign_up(gateway)
        started = time.monotonic()
        suite.in_service(
            "todo-service", "todo_history", big=big.user_id, small=small.user_id, count=args.todos
        )
        header(suite, this_command())
        print(f"inserted {args.todos} + 20 todos in {time.monotonic() - started:.1f} s")
        runs: dict[str, list[Run]] = {"big": [], "small": []}
        for round_number in range(1, args.rounds + 1):
            for name, account in (("big", big), ("small", small)):
                run, command = wrk(
                    gateway + PATH, account.token, duration=args.duration, connections=1
                )
                runs[name].append(run)
                if round_number == 1:
                    print(f"command ({name} user): {command}")
                print(
                    f"round {round_number} {name:5s} {run.rps:8.1f} req/s  "
                    f"p50 {run.p50_ms:7.2f} ms  p99 {run.p99_ms:7.2f} ms"
                )
        print()
        for name, label in (("big", f"{args.todos} todos"), ("small", "20 todos")):
            figure(f"{label}: p50 ms", [r.p50_ms for r in runs[name]])
            figure(f"{label}: p99 ms", [r.p99_ms for r in runs[name]])
        figure(
            "p50 ratio (big / small)",
            [b.p50_ms / s.p50_ms for b, s in zip(runs["big"], runs["small"], strict=True)],
            "<= 1.5",
        )


if __name__ == "__main__":
    main()
