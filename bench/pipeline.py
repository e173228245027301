"""Event pipeline latency: commit of a completed todo -> email accepted by the SMTP sink.

Completes todos through the gateway at a fixed rate (default 20/s for 60 s, as
the target in docs/spec/targets.md, "Performance" says), open loop: each PATCH
starts on its schedule whatever the earlier ones do. The commit time is the
todo's ``completed_at`` from the PATCH response (the same value the
``todo.completed`` event carries; set in the transaction just before it
commits, so the figure errs on the long side). The
accept time is the modification time of the message file the suite's sink
(aiosmtpd, Maildir under VAR_DIR/mail/new) wrote while accepting it. Emails are
matched to todos by their subject (each todo's title is unique); duplicates are
counted by Message-ID (``<event id>@notification-service``).

    ./manage-all.sh bench pipeline [--rate 20] [--duration 60] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

import requests
from common import Account, Mailbox, Suite, figure, header, percentile, sign_up, this_command

SUBJECT_PREFIX = "Todo completed: "


def complete_all(
    gateway: str, account: Account, ids: list[int], rate: float
) -> dict[int, float | str]:
    """PATCH each todo completed at ``rate`` per second; commit time (epoch) or an error."""
    local = threading.local()

    def complete(todo_id: int) -> float | str:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        try:
            response = local.session.patch(
                f"{gateway}/todos/{todo_id}",
                json={"completed": True},
                headers=account.headers,
                timeout=30,
            )
        except requests.RequestException as exc:
            return f"{type(exc).__name__}"
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        return datetime.fromisoformat(response.json()["completed_at"]).timestamp()

    futures: dict[int, Future[float | str]] = {}
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        for number, todo_id in enumerate(ids):
            delay = start + number / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures[todo_id] = pool.submit(complete, todo_id)
    late = time.monotonic() - start - (len(ids) - 1) / rate
    if late > 1:
        print(f"  note: the completions ran {late:.1f} s behind their schedule")
    return {todo_id: future.result() for todo_id, future in futures.items()}


def one_round(suite: Suite, account: Account, args: argparse.Namespace) -> dict[str, float]:
    count = round(args.rate * args.duration)
    tag = f"pipeline-{uuid.uuid4().hex[:8]}"
    ids = json.loads(
        suite.in_service("todo-service", "open_todos", user=account.user_id, tag=tag, count=count)
    )
    titles = {todo_id: f"{tag} {n}" for n, todo_id in enumerate(ids)}
    committed = complete_all(suite.url(), account, ids, args.rate)
    failed = {todo_id: error for todo_id, error in committed.items() if isinstance(error, str)}
    if failed:
        print(f"  {len(failed)} completions failed: {Counter(failed.values()).most_common(3)}")
    expected = {titles[todo_id]: t for todo_id, t in committed.items() if isinstance(t, float)}
    mailbox = Mailbox(suite.mail_dir())
    deadline = time.monotonic() + args.wait
    while True:
        mails = [m for m in mailbox.read() if m[0].removeprefix(SUBJECT_PREFIX) in expected]
        if len({m[0] for m in mails}) >= len(expected) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    time.sleep(1)  # a late duplicate would show up now
    mails = [m for m in mailbox.read() if m[0].removeprefix(SUBJECT_PREFIX) in expected]
    first: dict[str, float] = {}
    for subject, _, accepted in sorted(mails, key=lambda m: m[2]):
        first.setdefault(subject.removeprefix(SUBJECT_PREFIX), accepted)
    latencies = [(first[title] - expected[title]) * 1000 for title in first]
    copies = Counter(message_id for _, message_id, _ in mails)
    result = {
        "completions": float(len(expected)),
        "p50 ms": percentile(latencies, 0.5) if latencies else float("nan"),
        "p99 ms": percentile(latencies, 0.99) if latencies else float("nan"),
        "max ms": max(latencies, default=float("nan")),
        "lost": float(len(expected) - len(first)),
        "duplicated": float(sum(n - 1 for n in copies.values())),
    }
    print("  " + "  ".join(f"{name} {value:.1f}" for name, value in result.items()))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="completions per second")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of completions")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--wait", type=float, default=30.0, help="seconds to wait for the last emails"
    )
    args = parser.parse_args()

    with Suite("pipeline") as suite:
        account = sign_up(suite.url())
        header(suite, this_command())
        print(f"{args.rate:g} completions/s for {args.duration:g} s per round, through the gateway")
        results = []
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number}:")
            results.append(one_round(suite, account, args))
        print()
        bars = {"p50 ms": "<= 50", "p99 ms": "<= 250", "lost": "0", "duplicated": "0"}
        for name in ("p50 ms", "p99 ms", "max ms", "lost", "duplicated"):
            figure(f"commit -> SMTP accept {name}", [r[name] for r in results], bars.get(name, ""))


if __name__ == "__main__":
    main()
