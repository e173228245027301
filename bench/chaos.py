"""Chaos: random faults under live traffic, then every promise checked against the record.

Starts a private PostgreSQL cluster (commits durable, so that crashing it may
not lose an acknowledged write) and a copy of the suite on it with the
embedded Redis and SMTP sink. Then, for ``--duration`` seconds:

- traffic through the gateway, open loop at ``--rate`` requests/s, from many
  simulated users (chaos_support/traffic.py), every exchange recorded;
- faults drawn from ``--seed``, one every ``--mean-gap`` seconds on average
  (chaos_support/faults.py): processes killed, services paused, Redis and
  PostgreSQL restarted, the SMTP sink refusing; sometimes two at once.

When the traffic has stopped and the last fault is over, every process is
checked to be running (one that is not is started, and counted), and the run
waits (at most ``--settle`` seconds) until nothing is on its way: every outbox
row confirmed, every notification sent, every saga finished. Then it checks
each promise (chaos_support/checks.py) and prints each with its count, the
availability per route, and the restarts. Exits non-zero if any promise is
broken, naming the random seed to replay the run with.

    ./manage-all.sh bench chaos [--seed N|random] [--duration 600] [--rate 20]
                                [--mean-gap 15] [--settle 300] [--keep-logs DIR]

With ``LOG_LEVEL=INFO`` in the environment the logs keep every request's
access line (the benchmarks log warnings only).
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import redis
from chaos_support import checks
from chaos_support.faults import Injector, schedule
from chaos_support.traffic import MIX, Record, Traffic
from common import Mailbox, Suite, header, this_command
from manage_all.postgres import PostgresServer

# What the run sets beside the benchmarks' raised rate limits: tokens that expire
# within the run (clients refresh and log in again, as real ones do).
CHAOS_SETTINGS = {"JWT_ACCESS_LIFETIME_SECONDS": "300"}
THREADS = 256  # enough for every request of a slot to wait out a paused service
SETTLE_BAR_S = 60
RECOVERY_S = 5.0  # after a service is back, how long its callers may still see it down
BREAKER_RESET_S = 30.0  # the gateway's GATEWAY_BREAKER_RESET_SECONDS unless the run sets it


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", default="random", help="a number, or 'random' (printed)")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of traffic")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--mean-gap", type=float, default=15.0, help="seconds between faults")
    parser.add_argument("--settle", type=float, default=300.0, help="seconds to wait at most")
    parser.add_argument(
        "--keep-logs", type=Path, help="copy the suite's logs here before it is removed"
    )
    args = parser.parse_args()
    seed = random.SystemRandom().randrange(10**6) if args.seed == "random" else int(args.seed)
    replay = (
        f"./manage-all.sh bench chaos --seed {seed} --duration {args.duration:g} "
        f"--rate {args.rate:g} --mean-gap {args.mean_gap:g}"
    )

    postgres = PostgresServer.create(durable_commits=True)
    try:
        suite = Suite("chaos")
        suite.env.update(postgres.suite_databases("chaos"), **CHAOS_SETTINGS)
        with suite:
            try:
                return run(suite, postgres, seed, replay, args)
            finally:
                if args.keep_logs:
                    shutil.copytree(suite.paths.log, args.keep_logs, dirs_exist_ok=True)
    finally:
        postgres.remove()


def run(
    suite: Suite, postgres: PostgresServer, seed: int, replay: str, args: argparse.Namespace
) -> int:
    header(suite, this_command())
    processes = sorted(suite.pids())
    faults = schedule(seed, args.duration, args.mean_gap, processes)
    print(f"seed {seed}; replay: {replay}")
    print(f"{args.rate:g} requests/s for {args.duration:g} s; mix: "
          + ", ".join(f"{k} {v}" for k, v in MIX.items()))  # fmt: skip
    print(f"{len(faults)} faults:")
    for fault in faults:
        print(f"  {fault}")
    sys.stdout.flush()

    started = time.monotonic()
    record = Record(started)
    traffic = Traffic(suite.url(), seed, record)
    injector = Injector(suite, postgres, started)
    stop = threading.Event()
    faulting = threading.Thread(target=injector.run, args=(faults, stop), daemon=True)
    faulting.start()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        for number in range(round(args.rate * args.duration)):
            delay = started + number / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(traffic.step)
    traffic_ended = time.monotonic() - started
    stop.set()
    faulting.join()
    injector.wait()
    last_fault = max([f.ended for f in faults if f.ended is not None], default=traffic_ended)
    print(f"\ntraffic ended at {traffic_ended:.0f} s, the last fault at {last_fault:.0f} s")
    for error in injector.errors:
        print(f"  fault not carried out: {error}")

    down = injector.not_running(processes)
    for name in down:
        print(f"  {name} was not running at the end: started again")
        injector.start(name)
    settled_at, pending = settle(suite, args.settle, started, max(last_fault, traffic_ended))
    settled_after = settled_at - max(last_fault, traffic_ended) if settled_at else None

    databases = suite.settings()
    messages = [message_id for _, message_id, _ in Mailbox(suite.mail_dir()).read()]
    evidence = checks.Evidence.read(databases, messages)
    exchanges = list(record)
    found = [
        *checks.check_todos(traffic.users, evidence),
        *checks.check_emails(traffic.users, evidence, faults),
        *checks.check_sagas(traffic.users, evidence),
        *checks.check_answers(exchanges),
    ]
    breaker_reset = float(suite.env.get("GATEWAY_BREAKER_RESET_SECONDS", BREAKER_RESET_S))
    lines, reads = checks.availability(exchanges, faults, RECOVERY_S, breaker_reset)
    found.append(reads)
    settled = checks.Check(f"the suite settled within {SETTLE_BAR_S} s of the last fault", 1)
    if settled_after is None:
        left = checks.unsettled(databases, databases["REDIS_URL"])
        settled.fail(f"not settled after {args.settle:g} s: {left}")
    elif settled_after > SETTLE_BAR_S:
        settled.fail(f"settled after {settled_after:.0f} s; {SETTLE_BAR_S} s in: {pending}")
    settled.note = f"{settled_after:.0f} s" if settled_after is not None else ""
    found.append(settled)
    running = checks.Check("every process running at the end", len(processes))
    for name in down:
        running.fail(f"{name} had to be started again after the run")
    found.append(running)

    print(f"\n{len(exchanges)} requests from {len(traffic.users)} users; "
          f"{traffic.skipped_slots} slots skipped (every user busy)")  # fmt: skip
    print("availability (ok: any answer below 500 other than 429):")
    for line in lines:
        print(line)
    print("\nprocesses started during the run (by this run's restarts; the rest by supervisord):")
    for name, count in sorted(spawned(suite.paths.log / "supervisord.log").items()):
        if count > 1:
            print(f"  {name:22s} {count - 1} restarts, {injector.restarts.get(name, 0)} by the run")
    print("\npromises:")
    for check in found:
        verdict = "holds" if check.holds else f"BROKEN ({len(check.failures)})"
        note = f"; {check.note}" if check.note else ""
        print(f"  {verdict:12s} {check.name} [{check.count} checked{note}]")
        for failure in check.failures[: checks.EXAMPLES]:
            print(f"      {failure}")
    broken = [check for check in found if not check.holds]
    if broken:
        print(f"\nseed {seed}: {len(broken)} promises broken; first: {broken[0].failures[0]}")
        print(f"replay: {replay}")
        return 1
    print(f"\nseed {seed}: every promise holds")
    return 0


def settle(
    suite: Suite, limit: float, started: float, since: float
) -> tuple[float | None, dict[str, int]]:
    """Seconds (since the run began) when nothing was on its way any more (None: not
    within ``limit``), and what was still on its way ``SETTLE_BAR_S`` after ``since``."""
    databases = suite.settings()
    deadline = time.monotonic() + limit
    at_the_bar: dict[str, int] = {}
    while time.monotonic() < deadline:
        try:
            left = checks.unsettled(databases, databases["REDIS_URL"])
        except (psycopg2.Error, redis.RedisError):
            left = {"the databases or Redis not answering": 1}
        now = time.monotonic() - started
        if not left:
            return now, at_the_bar
        if now <= since + SETTLE_BAR_S:
            at_the_bar = left
        time.sleep(1)
    return None, at_the_bar


def spawned(log: Path) -> dict[str, int]:
    """How often supervisord started each process (its "spawned:" lines)."""
    counts: dict[str, int] = {}
    for name in re.findall(r"spawned: '([^']+)'", log.read_text()):
        counts[name] = counts.get(name, 0) + 1
    return counts


if __name__ == "__main__":
    sys.exit(main())
