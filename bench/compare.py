"""Before and after, side by side: one service's route, the code at a git ref against this tree.

    ./manage-all.sh bench compare --before REF [--service todo-service] [--path /todos]
        [--rounds 5] [--duration 10] [--connections 8] [--todos 20] [--complete 0]

Starts the suite from this working tree (the "after"), then one more gunicorn of
``--service`` from a git worktree of ``REF`` (the "before"): that worktree's
project folder, with its own ``servicekit`` ahead of the installed one on
``PYTHONPATH``, and otherwise the same virtualenv, databases, Redis, keys and
settings. wrk then alternates between the two ports, round after round, with
the same token, so both sides see the same machine. Printed per side: req/s,
p50 and p99, and the service's CPU per request (its master and workers),
medians over the rounds, and the ratios after / before.

The route is read with a token of a user who has ``--todos`` todos, the first
``--complete`` of them completed (and their notifications recorded, for
notification-service's routes). ``--path`` may name ``{todo_id}`` and
``{notification_id}``: the user's first todo and newest notification, for the
detail routes. Run it on PostgreSQL (bench/README.md) for figures that mean
something.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from common import (
    TICKS,
    Account,
    Run,
    Suite,
    cpu_ticks,
    create_todos,
    figure,
    group_ticks,
    header,
    require_wrk,
    sign_up,
    this_command,
    wrk,
)
from manage_all.settings import ROOT, free_port

READY_TIMEOUT = 60.0


class Before:
    """The service's gunicorn from a worktree of ``ref``, beside the suite's own."""

    def __init__(self, suite: Suite, service: str, ref: str) -> None:
        self.suite, self.service, self.ref = suite, service, ref
        self.folder = Path(tempfile.mkdtemp(prefix="bench-before-"))
        self.port = free_port(set())
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Before:
        subprocess.run(  # noqa: S603 - git with our own arguments
            ["git", "worktree", "add", "--detach", str(self.folder), self.ref],  # noqa: S607
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        self.process = self.suite.spawn_in_service(
            self.service,
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "-c",
            "gunicorn.conf.py",
            log=f"{self.service}-before",
            root=self.folder,
            PORT=str(self.port),
            # This copy's servicekit ahead of the one installed from the working tree.
            PYTHONPATH=str(self.folder / "shared" / "src"),
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while not self._ready():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(
                    f"the {self.ref} copy of {self.service} did not start; see its log"
                )
            time.sleep(0.5)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        subprocess.run(  # noqa: S603 - git with our own arguments
            ["git", "worktree", "remove", "--force", str(self.folder)],  # noqa: S607
            cwd=ROOT,
            check=False,
            capture_output=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _ready(self) -> bool:
        try:
            return requests.get(self.url + "/health/ready", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def ticks(self) -> int:
        """utime + stime of the master and its workers (its own process group)."""
        assert self.process is not None  # noqa: S101 - started in __enter__
        return group_ticks(self.process.pid)


def complete(gateway: str, account: Account, todo_ids: list[int]) -> int | None:
    """Complete these todos; once their notifications are recorded, the newest one's id."""
    with requests.Session() as session:
        session.headers.update(account.headers)
        for todo_id in todo_ids:
            session.post(f"{gateway}/todos/{todo_id}/complete", timeout=30).raise_for_status()
        deadline = time.monotonic() + 60
        while True:
            page = session.get(f"{gateway}/notifications", timeout=30).json()
            completions = [n for n in page["results"] if n["event_type"] == "todo.completed"]
            if len(completions) >= min(len(todo_ids), 20) or time.monotonic() > deadline:
                return page["results"][0]["id"] if page["results"] else None
            time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="a git ref: the code to compare with")
    parser.add_argument("--service", default="todo-service")
    parser.add_argument("--path", default="/todos")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--todos", type=int, default=20)
    parser.add_argument("--complete", type=int, default=0, help="how many of them to complete")
    args = parser.parse_args()
    require_wrk()

    with Suite("compare") as suite:
        gateway = suite.url("api-gateway")
        account = sign_up(gateway)
        todo_ids = create_todos(gateway, account, args.todos)
        notification_id = complete(gateway, account, todo_ids[: args.complete])
        path = args.path.format(todo_id=todo_ids[0], notification_id=notification_id)
        with Before(suite, args.service, args.before) as before:
            header(suite, this_command())
            print(
                f"{args.service} {path}, {args.todos} todos ({args.complete} completed), same token"
            )
            sides = {"before": before.url, "after": suite.url(args.service)}

            def ticks(side: str) -> int:
                return (
                    before.ticks()
                    if side == "before"
                    else cpu_ticks(suite, (args.service,))[args.service]
                )

            for base in sides.values():  # warm both up
                wrk(base + path, account.token, duration=2, connections=args.connections)
            runs: dict[str, list[Run]] = {side: [] for side in sides}
            for round_number in range(1, args.rounds + 1):
                order = list(sides) if round_number % 2 else list(reversed(sides))
                for side in order:
                    started = ticks(side)
                    run, command = wrk(
                        sides[side] + path,
                        account.token,
                        duration=args.duration,
                        connections=args.connections,
                    )
                    run.cpu_ms = {
                        args.service: (ticks(side) - started) * 1000 / TICKS / run.requests
                    }
                    runs[side].append(run)
                    if round_number == 1:
                        print(f"command ({side}): {command}")
                    print(
                        f"round {round_number} {side:6s} {run.rps:8.1f} req/s  "
                        f"p50 {run.p50_ms:6.2f} ms  p99 {run.p99_ms:6.2f} ms  "
                        f"CPU {run.cpu_ms[args.service]:.2f} ms/request"
                    )
    print()
    for side, side_runs in runs.items():
        figure(f"{side} ({args.before if side == 'before' else 'this tree'}) req/s",
               [r.rps for r in side_runs])  # fmt: skip
        figure(f"{side} CPU ms/request", [r.cpu_ms[args.service] for r in side_runs])
        figure(f"{side} p99 ms", [r.p99_ms for r in side_runs])
    pairs = list(zip(runs["before"], runs["after"], strict=True))
    figure("throughput after / before", [a.rps / b.rps for b, a in pairs])
    figure(
        "CPU per request after / before",
        [a.cpu_ms[args.service] / b.cpu_ms[args.service] for b, a in pairs],
    )
    print(
        f"median CPU ms/request: before "
        f"{statistics.median(r.cpu_ms[args.service] for r in runs['before']):.2f}, after "
        f"{statistics.median(r.cpu_ms[args.service] for r in runs['after']):.2f}"
    )


if __name__ == "__main__":
    main()
