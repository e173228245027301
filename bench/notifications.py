"""Notification throughput: emails/s from the notification worker to the SMTP sink,
with worker concurrency 1 and 4.

Starts a suite, signs a user up and stops the notification worker. Per run it
publishes N ``todo.completed`` events for that user straight to the worker's
queue, as the outbox relay does (``servicekit.outbox.publisher``, run in the
todo project), then starts the worker (``manage-all.sh start worker`` with
``NOTIFICATION_WORKER_CONCURRENCY``) and waits for N emails in the sink's
Maildir. The rate is taken between the first and the last email the sink
accepted (file times), so the worker's start-up is not in it. Each handled
event takes what production takes: the claim in the notification database,
the user's address from user-service (cached after the first), rendering,
SMTP, the receipt in Redis.

    ./manage-all.sh bench notifications [--rounds 3] [--events 500]
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections import Counter

from common import (
    Account,
    Mailbox,
    Suite,
    figure,
    header,
    sign_up,
    this_command,
)


def one_run(
    suite: Suite, account: Account, mailbox: Mailbox, concurrency: int, events: int
) -> float:
    tag = f"notification-bench-{uuid.uuid4().hex[:8]}"
    suite.in_service(
        "todo-service", "publish_completed", count=events, user=account.user_id, tag=tag
    )
    suite.start("notification-worker", NOTIFICATION_WORKER_CONCURRENCY=str(concurrency))
    try:
        deadline = time.monotonic() + 600
        while True:
            mails = [m for m in mailbox.read() if m[0].startswith(f"Todo completed: {tag} ")]
            if len(mails) >= events:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(mails)} of {events} emails after 600 s")
            time.sleep(0.25)
    finally:
        suite.stop("notification-worker")
    accepted = sorted(m[2] for m in mails)
    rate = (len(accepted) - 1) / (accepted[-1] - accepted[0])
    twice = sum(n - 1 for n in Counter(m[1] for m in mails).values())
    print(
        f"  concurrency {concurrency}: {len(mails)} emails in {accepted[-1] - accepted[0]:.2f} s "
        f"= {rate:.1f} emails/s, {twice} duplicated"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=500, help="emails per run")
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[1, 4],
        help="worker concurrencies to compare; the ratio is last / first (default: 1 4)",
    )
    args = parser.parse_args()
    levels = args.concurrency
    low, high = levels[0], levels[-1]

    with Suite("notifications") as suite:
        account = sign_up(suite.url())
        suite.stop("notification-worker")
        header(suite, this_command())
        print("worker: celery -A config worker -Q notification.events (manage-all.sh defaults)")
        mailbox = Mailbox(suite.mail_dir())
        rates: dict[int, list[float]] = {level: [] for level in levels}
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number}:")
            for concurrency in levels:
                rates[concurrency].append(
                    one_run(suite, account, mailbox, concurrency, args.events)
                )
        print()
        for level in levels:
            figure(
                f"emails/s, concurrency {level}",
                rates[level],
                ">= 100 (at 4)" if level == 4 else "",
            )
        figure(
            f"concurrency {high} / concurrency {low}",
            [b / a for a, b in zip(rates[low], rates[high], strict=True)],
            ">= 3 (4 vs 1)",
        )


if __name__ == "__main__":
    main()
