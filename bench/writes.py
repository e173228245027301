"""Writes through the gateway: POST /todos and PATCH /todos/{id} {"completed": true}.

Each write commits the todo and its event to the outbox in one transaction; the
suite's relay and notification worker run as usual (every completion ends in
an email to the sink), so this is the write path with the outbox on. ``wrk``
drives both with Lua scripts (bench/lua/): a POST body, and PATCHes that
complete todos the POST runs created, each once. Prints req/s, p50 and p99
per round and min/median/max, and the CPU each write cost, summed over every
process it wakes (the gateway, todo-service, PostgreSQL, Redis, the relay, the
worker, the mail server, Flower), counted until the suite is quiet again
(``common.CpuMeter``), with the processes that spent the most.

    ./manage-all.sh bench writes [--rounds 3] [--duration 10] [--connections 8]

Set ``TODO_DATABASE_URL`` (and the other ``*_DATABASE_URL``) to PostgreSQL, as
the targets are measured (docs/spec/targets.md, "Performance"); otherwise the
suite's SQLite default is measured.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import requests
from common import (
    Account,
    CpuMeter,
    Run,
    Suite,
    figure,
    header,
    require_wrk,
    sign_up,
    this_command,
    wrk,
)


def open_todo_ids(suite: Suite, account: Account) -> list[int]:
    """The user's todos not completed yet, oldest first (read straight from todo-service)."""
    ids: list[int] = []
    url: str | None = (
        f"{suite.url('todo-service')}/todos?completed=false&ordering=created_at&page_size=100"
    )
    with requests.Session() as session:
        while url:
            response = session.get(url, headers=account.headers, timeout=30)
            response.raise_for_status()
            page = response.json()
            ids += [todo["id"] for todo in page["results"]]
            url = page["next"]
    return ids


def per_request(spent: dict[str, float], requests: int) -> dict[str, float]:
    """CPU seconds by process -> CPU milliseconds per request."""
    return {name: seconds * 1000 / max(1, requests) for name, seconds in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    require_wrk()
    threads = min(2, args.connections)

    with Suite("writes") as suite, tempfile.TemporaryDirectory() as scratch:
        gateway = suite.url()
        account = sign_up(gateway)
        header(suite, this_command())
        # A warm-up POST run, not counted: warm processes, and todos for the first PATCHes.
        wrk(
            f"{gateway}/todos",
            account.token,
            duration=args.duration,
            connections=args.connections,
            script="post_todo.lua",
        )
        meter = CpuMeter(suite)
        ids_file = Path(scratch) / "ids.txt"
        runs: dict[str, list[Run]] = {"POST /todos": [], "PATCH completed": []}
        for round_number in range(1, args.rounds + 1):
            (post, post_command), spent = meter.measure(
                lambda: wrk(
                    f"{gateway}/todos",
                    account.token,
                    duration=args.duration,
                    connections=args.connections,
                    script="post_todo.lua",
                )
            )
            post.cpu_ms = per_request(spent, post.requests)
            ids = open_todo_ids(suite, account)
            ids_file.write_text("".join(f"{todo_id}\n" for todo_id in ids))
            (patch, patch_command), spent = meter.measure(
                lambda: wrk(
                    gateway,
                    account.token,
                    duration=args.duration,
                    connections=args.connections,
                    script="complete_todo.lua",
                    script_args=(str(ids_file), str(threads)),
                )
            )
            patch.cpu_ms = per_request(spent, patch.requests)
            if round_number == 1:
                print(f"command (POST): {post_command}")
                print(f"command (PATCH): {patch_command.replace(str(ids_file), 'IDS_FILE')}")
            for name, run in (("POST /todos", post), ("PATCH completed", patch)):
                runs[name].append(run)
                print(
                    f"round {round_number} {name:16s} {run.rps:8.1f} req/s  "
                    f"p50 {run.p50_ms:7.2f} ms  p99 {run.p99_ms:7.2f} ms  "
                    f"CPU {sum(run.cpu_ms.values()):6.2f} ms/write"
                )
            if patch.requests > len(ids):
                print(
                    f"  note: {patch.requests} PATCHes for {len(ids)} open todos: "
                    f"{patch.requests - len(ids)} repeated a completed one (no change, no event)"
                )
        pending = suite.in_service("todo-service", "outbox_counts").split()
        print()
        for name, name_runs in runs.items():
            figure(f"{name} req/s", [r.rps for r in name_runs])
            figure(f"{name} p50 ms", [r.p50_ms for r in name_runs])
            figure(f"{name} p99 ms", [r.p99_ms for r in name_runs])
            figure(f"{name} CPU ms/write", [sum(r.cpu_ms.values()) for r in name_runs])
            for process in sorted(name_runs[0].cpu_ms, key=lambda p: -name_runs[0].cpu_ms[p]):
                values = [r.cpu_ms.get(process, 0.0) for r in name_runs]
                if statistics.median(values) >= 0.05:
                    figure(f"  {process}", values)
        print(
            f"outbox after the runs: {pending[0]} events written, {pending[1]} not yet "
            "published (writes have no target yet; req/s and p99 are reported)"
        )


if __name__ == "__main__":
    main()
