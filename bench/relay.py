"""Outbox relay throughput on PostgreSQL, with one relay and with two.

Starts a suite, stops its relay and notification worker, then per run: starts
1 (or 2) ``manage.py relay_outbox`` processes of the todo project and waits
until they idle, inserts N ``todo.completed`` outbox rows in one transaction
(todo project's ORM, envelopes built and validated like emit_event's), wakes the
relays as a commit does, and times commit -> the N-th message on the broker's
queue (``notification.events`` in Redis, where nothing consumes it). The queue
is then read to check that every event is there exactly once.

    ./manage-all.sh bench relay [--rounds 3] [--events 5000]

Needs PostgreSQL (``TODO_DATABASE_URL`` and the other ``*_DATABASE_URL``):
several relays share the work with ``SELECT ... FOR UPDATE SKIP LOCKED``, which
SQLite does not have.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import redis
from common import PYTHON, Suite, figure, header, this_command
from manage_all import catalog
from manage_all.settings import ROOT
from servicekit.outbox.testing import published_messages

QUEUE = "notification.events"


def start_relays(suite: Suite, count: int, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    env = {
        **suite.service_env("todo-service"),
        "LOG_LEVEL": "INFO",
        # No redelivery during a run (nothing confirms; copies would be by design).
        "OUTBOX_REDELIVER_AFTER_SECONDS": "3600",
        "OUTBOX_REDELIVER_LOST_AFTER_SECONDS": "3600",
    }
    relays, logs = [], []
    for number in range(count):
        log = log_dir / f"relay-{number}.log"
        logs.append(log)
        with log.open("wb") as output:
            relays.append(
                subprocess.Popen(  # noqa: S603 - our own interpreter and project
                    [str(PYTHON), "manage.py", "relay_outbox"],
                    cwd=ROOT / catalog.service("todo-service").folder,
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            )
    deadline = time.monotonic() + 60
    while not all("relay_started" in log.read_text() for log in logs):
        if time.monotonic() > deadline or any(r.poll() is not None for r in relays):
            raise SystemExit(f"a relay did not start; see {log_dir}")
        time.sleep(0.1)
    time.sleep(0.5)  # past its first (empty) drain, waiting for a wake-up
    return relays


def one_run(suite: Suite, relays: int, events: int, log_dir: Path) -> float:
    broker = redis.Redis.from_url(suite.settings()["REDIS_URL"])
    broker.delete(QUEUE)
    processes = start_relays(suite, relays, log_dir)
    try:
        tag = f"relay-bench-{uuid.uuid4().hex[:8]}"
        printed = suite.in_service(
            "todo-service", "outbox_rows", count=events, tag=tag, relays=relays
        )
        committed = float(printed.split()[-1])
        deadline = time.monotonic() + 600
        while broker.llen(QUEUE) < events:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {broker.llen(QUEUE)} of {events} published after 600 s")
            time.sleep(0.01)
        done = time.time()
        time.sleep(1)  # anything published twice would arrive now
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    messages = published_messages(suite.settings()["REDIS_URL"], QUEUE)
    envelopes = [message["envelope"] for message in messages]
    ours = [e for e in envelopes if str(e["data"].get("title")).startswith(tag + " ")]
    if len(ours) < len(messages):
        print(f"  (and {len(messages) - len(ours)} events of earlier runs on the same database)")
    copies = Counter(envelope["id"] for envelope in ours)
    twice = sum(n - 1 for n in copies.values())
    rate = events / (done - committed)
    print(
        f"  {relays} relay(s): {events} events in {done - committed:.2f} s = {rate:.0f} events/s, "
        f"{len(copies)} distinct on the queue, {twice} published twice"
    )
    if twice or len(copies) != events:
        raise SystemExit("a row was published twice or not at all")
    broker.delete(QUEUE)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=5000, help="outbox rows per run")
    args = parser.parse_args()
    if "postgres" not in os.environ.get("TODO_DATABASE_URL", ""):
        raise SystemExit("bench/relay.py needs TODO_DATABASE_URL=postgres://... (see its doc)")

    with Suite("relay") as suite:
        suite.stop("todo-relay")
        suite.stop("notification-worker")
        suite.stop("user-relay")  # it would redeliver earlier runs' events to the same queue
        header(suite, this_command())
        print("relay: .venv/bin/python manage.py relay_outbox (todo_project), default settings")
        rates: dict[int, list[float]] = {1: [], 2: []}
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number}:")
            for relays in (1, 2):
                rates[relays].append(one_run(suite, relays, args.events, suite.var_dir / "log"))
        print()
        figure("events/s, 1 relay", rates[1], ">= 500")
        figure("events/s, 2 relays", rates[2])
        figure(
            "2 relays / 1 relay",
            [two / one for one, two in zip(rates[1], rates[2], strict=True)],
            ">= 1.6, no row published twice (checked: 0)",
        )


if __name__ == "__main__":
    main()
