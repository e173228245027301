"""Soak: mixed traffic through the gateway at a fixed rate; no 5xx, and what memory does.

Several users read their todos, create todos, complete them and log in, in a
fixed mix, open loop (each request starts on its schedule whatever the earlier
ones do), for 2 minutes by default. Prints the count per kind of request and
status, p50/p99 per kind, and the resident memory (RSS, and PSS, which splits
pages shared between forked workers) of every process of the suite at the start
and at the end. Exits non-zero if any request got a 5xx or no answer.

    ./manage-all.sh bench soak [--rate 20] [--duration 120] [--users 5]
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor

import requests
from common import (
    Account,
    Suite,
    create_todos,
    header,
    log_in,
    megabytes,
    memory,
    percentile,
    sign_up,
    this_command,
)

MIX = {"read": 60, "write": 20, "complete": 15, "login": 5}


class Traffic:
    """The requests of one soak, each a (kind, outcome, milliseconds) when done."""

    def __init__(self, gateway: str, accounts: list[Account], open_ids: list[deque[int]]) -> None:
        self.gateway = gateway
        self.accounts = accounts
        self.open_ids = open_ids  # per user, todos not completed yet
        self.local = threading.local()

    def session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session  # type: ignore[no-any-return]

    def request(self, kind: str, user: int) -> tuple[str, str, float]:
        account, url = self.accounts[user], self.gateway
        started = time.monotonic()
        try:
            if kind == "complete" and self.open_ids[user]:
                todo_id = self.open_ids[user].popleft()
                response = self.session().patch(
                    f"{url}/todos/{todo_id}",
                    json={"completed": True},
                    headers=account.headers,
                    timeout=30,
                )
            elif kind in ("write", "complete"):
                kind = "write"  # nothing left to complete
                response = self.session().post(
                    f"{url}/todos", json={"title": "soak"}, headers=account.headers, timeout=30
                )
                if response.status_code == 201:
                    self.open_ids[user].append(int(response.json()["id"]))
            elif kind == "login":
                log_in(url, account.username, account.password)
                return kind, "200", (time.monotonic() - started) * 1000
            else:
                response = self.session().get(
                    f"{url}/todos?page_size=20", headers=account.headers, timeout=30
                )
        except requests.HTTPError as exc:
            outcome = str(exc.response.status_code) if exc.response is not None else "error"
            return kind, outcome, (time.monotonic() - started) * 1000
        except requests.RequestException as exc:
            return kind, type(exc).__name__, (time.monotonic() - started) * 1000
        return kind, str(response.status_code), (time.monotonic() - started) * 1000


def run(traffic: Traffic, rate: float, duration: float, users: int) -> list[tuple[str, str, float]]:
    chooser = random.Random(11)  # noqa: S311 - a load mix, not a secret
    kinds, weights = list(MIX), list(MIX.values())
    futures: list[Future[tuple[str, str, float]]] = []
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        for number in range(round(rate * duration)):
            delay = start + number / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            kind = chooser.choices(kinds, weights)[0]
            futures.append(pool.submit(traffic.request, kind, chooser.randrange(users)))
    late = time.monotonic() - start - duration
    if late > 1:
        print(f"note: the load generator ended {late:.1f} s behind its schedule")
    return [future.result() for future in futures]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds")
    parser.add_argument("--users", type=int, default=5)
    args = parser.parse_args()

    with Suite("soak") as suite:
        gateway = suite.url()
        accounts = [sign_up(gateway) for _ in range(args.users)]
        open_ids = [deque(create_todos(gateway, account, 10)) for account in accounts]
        header(suite, this_command())
        mix = ", ".join(f"{kind} {share}%" for kind, share in MIX.items())
        print(f"{args.rate:g} requests/s for {args.duration:g} s, {args.users} users; mix: {mix}")
        before = memory(suite)
        results = run(Traffic(gateway, accounts, open_ids), args.rate, args.duration, args.users)
        time.sleep(2)  # let the events of the last writes go through
        after = memory(suite)

        print()
        print("requests by kind and outcome:")
        counts = Counter((kind, outcome) for kind, outcome, _ in results)
        for (kind, outcome), count in sorted(counts.items()):
            print(f"  {kind:9s} {outcome:22s} {count:6d}")
        for kind in MIX:
            times = [ms for k, _, ms in results if k == kind]
            if times:
                print(
                    f"  {kind:9s} p50 {percentile(times, 0.5):8.1f} ms  "
                    f"p99 {percentile(times, 0.99):8.1f} ms"
                )
        failures = sum(n for (_, outcome), n in counts.items() if outcome[0] not in "234")
        print()
        columns = ("RSS start", "RSS end", "PSS start", "PSS end")
        print(f"{'process':24s} " + " ".join(f"{column:>10s}" for column in columns))
        for name in sorted(after):
            rss0, pss0 = before.get(name, (0, 0))
            rss1, pss1 = after[name]
            print(
                f"{name:24s} {megabytes(rss0):>10s} {megabytes(rss1):>10s} "
                f"{megabytes(pss0):>10s} {megabytes(pss1):>10s}"
            )
        total = [sum(v[i] for v in d.values()) for d in (before, after) for i in (0, 1)]
        print(
            f"{'total':24s} {megabytes(total[0]):>10s} {megabytes(total[2]):>10s} "
            f"{megabytes(total[1]):>10s} {megabytes(total[3]):>10s}"
        )
        print()
        print(f"5xx or no answer: {failures} of {len(results)}   bar: 0")
    if failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
