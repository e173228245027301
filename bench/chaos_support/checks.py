"""The chaos run's verdict: every promise checked against the record and the databases.

Read after the suite has settled. Each check prints its count and whether it
holds; the first few offending items are named, with the request or event
that shows them.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg2
import redis

from chaos_support.faults import HTTP_SERVICES, Fault
from chaos_support.traffic import DELETED, Exchange, User

EXAMPLES = 5
# The service behind each route of the gateway.
ROUTE_SERVICE = (
    ("/auth/", "user-service"),
    ("/users", "user-service"),
    ("/todos", "todo-service"),
    ("/notifications", "notification-service"),
)
# The error answers the API documents for a service that is down, slow or overloaded.
DOCUMENTED_FAILURES = {
    (502, "bad_gateway"),
    (503, "upstream_unavailable"),
    (503, "circuit_open"),
    (503, "revocation_unavailable"),
    (503, "database_unavailable"),
    (504, "upstream_timeout"),
    (429, "rate_limited"),
}
PRIORITIES = {1: "low", 2: "normal", 3: "high"}


@dataclass
class Check:
    name: str
    count: int  # items checked
    failures: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def holds(self) -> bool:
        return not self.failures

    def fail(self, message: str) -> None:
        self.failures.append(message)


def query(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    connection = psycopg2.connect(url, connect_timeout=5)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            return list(cursor.fetchall())
    finally:
        connection.close()


def service_of(path: str) -> str:
    for prefix, service in ROUTE_SERVICE:
        if path.startswith(prefix):
            return service
    raise ValueError(path)


# --- settling ---------------------------------------------------------------------


RECEIPT_PREFIX = "event-receipt:"  # servicekit.events.receipts
RECEIPT_ACCEPTED = b"accepted"


def unconfirmed(databases: dict[str, str], redis_url: str) -> dict[str, list[str]]:
    """Outbox rows, by service, not yet published or not confirmed by the consumer.

    The relay marks a row delivered only on its sweeps; the receipt in Redis is
    the consumer's word as soon as it is done, so that is what is read here.
    """
    client = redis.Redis.from_url(redis_url)
    found: dict[str, list[str]] = {}
    for service, variable in (("todo-service", "TODO_DATABASE_URL"),
                              ("user-service", "USER_DATABASE_URL")):  # fmt: skip
        rows = query(
            databases[variable],
            "SELECT event_id::text, published_at IS NOT NULL FROM outbox_message"
            " WHERE delivered_at IS NULL",
        )
        published = [event_id for event_id, is_published in rows if is_published]
        receipts = client.mget([RECEIPT_PREFIX + e for e in published]) if published else []
        missing = [e for e, is_published in rows if not is_published]
        missing += [
            e
            for e, receipt in zip(published, receipts, strict=True)
            if receipt in (None, RECEIPT_ACCEPTED)  # none yet, or "on it" only
        ]
        if missing:
            found[service] = missing
    return found


def unsettled(databases: dict[str, str], redis_url: str) -> dict[str, int]:
    """What is still on its way: events without a receipt, notifications not final,
    sagas not finished. Empty when the suite has settled."""
    counts = {
        f"{service} events not confirmed": len(events)
        for service, events in unconfirmed(databases, redis_url).items()
    }
    counts["notifications pending or sending"] = query(
        databases["NOTIFICATION_DATABASE_URL"],
        "SELECT count(*) FROM notifications_notification WHERE status IN ('pending', 'sending')",
    )[0][0]
    counts["sagas running or compensating"] = query(
        databases["USER_DATABASE_URL"],
        "SELECT count(*) FROM sagas_saga WHERE status IN ('running', 'compensating')",
    )[0][0]
    return {name: count for name, count in counts.items() if count}


# --- the checks -------------------------------------------------------------------


@dataclass
class Evidence:
    """What the checks read once: the databases' rows and the sink's messages."""

    todos: dict[int, tuple[int, str, str, str, bool, bool]]  # id -> user, fields, archived
    completed_events: dict[str, tuple[int, int]]  # event id -> (todo id, user id)
    registered_events: dict[str, int]  # event id -> user id
    undelivered: dict[str, list[str]]  # service -> events without a receipt
    users: dict[int, bool]  # user id -> is_active
    sagas: dict[int, list[tuple[str, str]]]  # user id -> [(saga id, status)]
    notifications: dict[str, tuple[str, int, str]]  # event id -> (status, user, last error)
    emails: Counter[str]  # event id -> copies the SMTP sink accepted

    @classmethod
    def read(cls, databases: dict[str, str], messages: Iterable[str]) -> Evidence:
        """``databases``: what ``up`` resolved (the ``*_DATABASE_URL``s and ``REDIS_URL``)."""
        todo_db = databases["TODO_DATABASE_URL"]
        user_db = databases["USER_DATABASE_URL"]
        notification_db = databases["NOTIFICATION_DATABASE_URL"]
        todos = {
            row[0]: (row[1], row[2], row[3], PRIORITIES[row[4]], row[5], row[6])
            for row in query(
                todo_db,
                "SELECT id, user_id, title, description, priority, completed,"
                " archived_at IS NOT NULL FROM todos_todo",
            )
        }
        completed = {
            str(event_id): (int(data["todo_id"]), int(data["user_id"]))
            for event_id, data in query(
                todo_db,
                "SELECT event_id, envelope->'data' FROM outbox_message"
                " WHERE event_type = 'todo.completed'",
            )
        }
        registered = {
            str(event_id): int(user_id)
            for event_id, user_id in query(
                user_db,
                "SELECT event_id, (envelope->'data'->>'user_id')::bigint FROM outbox_message"
                " WHERE event_type = 'user.registered'",
            )
        }
        undelivered = unconfirmed(databases, databases["REDIS_URL"])
        sagas: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for saga_id, user_id, status in query(
            user_db, "SELECT id, user_id, status FROM sagas_saga ORDER BY created_at"
        ):
            sagas[int(user_id)].append((str(saga_id), status))
        emails: Counter[str] = Counter()
        for message_id in messages:
            match = re.fullmatch(r"<(.+)@notification-service>", message_id.strip())
            emails[match.group(1) if match else message_id] += 1
        return cls(
            todos=todos,
            completed_events=completed,
            registered_events=registered,
            undelivered=undelivered,
            users=dict(query(user_db, "SELECT id, is_active FROM accounts_user")),
            sagas=dict(sagas),
            notifications={
                str(event_id): (status, int(user_id), last_error)
                for event_id, status, user_id, last_error in query(
                    notification_db,
                    "SELECT event_id, status, user_id, last_error FROM notifications_notification",
                )
            },
            emails=emails,
        )

    def deletion_started(self, user_id: int) -> bool:
        return bool(self.sagas.get(user_id))

    def deleted(self, user_id: int) -> bool:
        return any(status == "completed" for _, status in self.sagas.get(user_id, []))


def check_todos(users: list[User], evidence: Evidence) -> list[Check]:
    present = Check("every acknowledged todo is there, as last acknowledged", 0)
    unasked = Check("no todo the API did not create", 0)
    by_user: dict[int, list[int]] = defaultdict(list)
    for todo_id, row in evidence.todos.items():
        by_user[row[0]].append(todo_id)
    for user in users:
        if user.user_id is None or evidence.deleted(user.user_id):
            continue  # its todos are purged by design
        for belief in user.todos.values():
            present.count += 1
            found = evidence.todos.get(belief.todo_id)
            if found is None:
                if DELETED not in belief.states:
                    present.fail(f"todo {belief.todo_id} of {user.username} is lost")
                continue
            row = found
            if row[5] and evidence.deletion_started(user.user_id):
                continue  # hidden by a deletion saga that was then compensated or runs
            state = row[1:5]
            if state not in belief.states:
                wanted = " or ".join(sorted(map(str, belief.states)))
                present.fail(
                    f"todo {belief.todo_id} of {user.username} is {state}, acknowledged {wanted}"
                )
        extra = set(by_user.get(user.user_id, [])) - set(user.todos)
        unasked.count += len(by_user.get(user.user_id, []))
        if len(extra) > user.unknown_creations:
            unasked.fail(
                f"{user.username} has {len(extra)} todos it never saw created, but only "
                f"{user.unknown_creations} creations went unanswered: {sorted(extra)[:5]}"
            )
    return [present, unasked]


def check_emails(users: list[User], evidence: Evidence, faults: list[Fault]) -> list[Check]:
    completion = Check("each completion of a todo: one todo.completed event, one email", 0)
    welcome = Check("each registration: one user.registered event, one welcome email", 0)
    stray = Check("no email without a committed event", 0)
    copies = Check("emails accepted more than once (same Message-ID)", 0)
    statuses = Check("no notification failed or left undecided", len(evidence.notifications))
    events_by_todo = Counter(todo_id for todo_id, _ in evidence.completed_events.values())

    for user in users:
        for belief in user.todos.values():
            if belief.completions:
                completion.count += 1
                if events_by_todo[belief.todo_id] != 1:
                    completion.fail(
                        f"todo {belief.todo_id} of {user.username}: completion acknowledged, "
                        f"{events_by_todo[belief.todo_id]} todo.completed events"
                    )
    for todo_id, count in events_by_todo.items():
        if count > 1:
            completion.fail(f"todo {todo_id}: {count} todo.completed events, completed once")
    registered_users = Counter(evidence.registered_events.values())
    for user in users:
        if user.user_id is not None:
            welcome.count += 1
            if registered_users[user.user_id] != 1:
                welcome.fail(
                    f"{user.username} (id {user.user_id}): "
                    f"{registered_users[user.user_id]} user.registered events"
                )

    def expect_email(check: Check, event_id: str, user_id: int, what: str) -> None:
        sent = evidence.emails.get(event_id, 0)
        notification = evidence.notifications.get(event_id)
        if sent:
            return
        if evidence.deletion_started(user_id):
            return  # skipped, or purged with the account: no email is the promise
        state = notification[0] if notification else "no notification"
        check.fail(f"{what}, event {event_id}: no email ({state})")

    for event_id, (todo_id, user_id) in evidence.completed_events.items():
        expect_email(completion, event_id, user_id, f"todo {todo_id} completed")
    for event_id, user_id in evidence.registered_events.items():
        expect_email(welcome, event_id, user_id, f"user {user_id} registered")

    known = set(evidence.completed_events) | set(evidence.registered_events)
    stray.count = sum(evidence.emails.values())
    for event_id in evidence.emails:
        if event_id not in known:
            stray.fail(f"an email for event {event_id}, which no outbox holds")

    # The documented window (docs/spec/events.md, "Consumer idempotency"): the outcome of a send
    # is unknown when the worker dies after the SMTP server took the message, or the server
    # goes away after storing it and before its reply reached the worker.
    window_opened = any(
        (f.kind == "kill" and f.target in ("notification-worker", "smtp"))
        or f.kind == "smtp-refusing"
        for f in faults
    )
    copies.count = len(evidence.emails)
    repeated = {event_id: n for event_id, n in evidence.emails.items() if n > 1}
    if repeated:
        copies.note = (
            f"{len(repeated)} events, {sum(repeated.values())} copies: the send's outcome was "
            "lost with a killed worker or a mail server that went away mid-reply (the "
            "documented window); mail systems drop the copy by its Message-ID"
        )
        if not window_opened:
            copies.fail(f"copies without a worker or mail server gone: {sorted(repeated)[:5]}")

    for event_id, (status, user_id, error) in evidence.notifications.items():
        if status in ("pending", "sending", "failed"):
            statuses.fail(f"event {event_id} (user {user_id}): {status} {error[:120]}")
        elif status == "skipped" and not evidence.deletion_started(user_id):
            statuses.fail(f"event {event_id} (user {user_id}) skipped: {error[:120]}")
    return [completion, welcome, stray, copies, statuses]


def check_sagas(users: list[User], evidence: Evidence) -> list[Check]:
    final = Check("every account deletion finished: deleted everywhere, or fully usable", 0)
    outbox = Check("every outbox row delivered and confirmed", 0)
    outbox.count = len(evidence.completed_events) + len(evidence.registered_events)
    for service, events in evidence.undelivered.items():
        outbox.fail(f"{service}: {len(events)} events without a consumer's receipt: {events[:3]}")
    notification_users = {user for _, user, _ in evidence.notifications.values()}
    todo_users = {row[0] for row in evidence.todos.values()}
    for user in users:
        if user.user_id is None:
            continue
        sagas = evidence.sagas.get(user.user_id, [])
        if user.deletion and not sagas:
            final.fail(f"{user.username}: deletion {user.deletion} accepted, no saga")
        for saga_id, status in sagas:
            final.count += 1
            if status in ("running", "compensating"):
                final.fail(f"{user.username}: saga {saga_id} still {status}")
        if evidence.deleted(user.user_id):
            left = [
                name
                for name, holds in (
                    ("account", user.user_id in evidence.users),
                    ("todos", user.user_id in todo_users),
                    ("notifications", user.user_id in notification_users),
                )
                if holds
            ]
            if left:
                final.fail(f"{user.username}: deleted, yet its {', '.join(left)} remain")
        elif sagas:
            active = evidence.users.get(user.user_id)
            hidden = [
                todo_id
                for todo_id, row in evidence.todos.items()
                if row[0] == user.user_id and row[5]
            ]
            if not active or hidden:
                final.fail(
                    f"{user.username}: deletion failed, yet the account is "
                    f"{'inactive' if not active else 'active'} with {len(hidden)} todos hidden"
                )
    return [final, outbox]


def check_answers(exchanges: list[Exchange]) -> list[Check]:
    no_500 = Check("no 500 at any time", len(exchanges))
    documented = Check("every other failure is a documented one (502/503/504/429)", 0)
    for exchange in exchanges:
        if exchange.status == 500:
            no_500.fail(
                f"{exchange.started:.1f} s {exchange.method} {exchange.path}: 500 "
                f"{exchange.detail[:200]}"
            )
        elif exchange.status is not None and exchange.status >= 500:
            documented.count += 1
            if (exchange.status, exchange.code) not in DOCUMENTED_FAILURES:
                documented.fail(
                    f"{exchange.started:.1f} s {exchange.method} {exchange.path}: "
                    f"{exchange.status} {exchange.code!r}"
                )
    return [no_500, documented]


def down_windows(faults: list[Fault], recovery: float) -> dict[str, list[tuple[float, float]]]:
    """When each service could not answer: its own faults, the gateway's, the database's."""
    windows: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for fault in faults:
        if fault.began is None or fault.ended is None:
            continue
        span = (fault.began, fault.ended + recovery)
        if fault.target == "api-gateway" or fault.target == "postgres":
            for service in HTTP_SERVICES:
                windows[service].append(span)
        elif fault.target in HTTP_SERVICES and fault.kind in ("kill", "pause"):
            windows[fault.target].append(span)
    return windows


def availability(
    exchanges: list[Exchange], faults: list[Fault], recovery: float, breaker_reset: float
) -> tuple[list[str], Check]:
    """Lines of the share of successful requests per route, and the check on reads.

    A request counts as inside its service's fault from the fault's start until
    ``recovery`` seconds after the service was back; and, for the check, until
    the gateway's breaker may have let it through again (``breaker_reset``
    more): an open breaker keeps refusing a service that is back until its
    reset time has passed, by design.
    """
    strict = down_windows(faults, recovery)
    lenient = down_windows(faults, recovery + breaker_reset)

    def inside(exchange: Exchange, windows: dict[str, list[tuple[float, float]]]) -> bool:
        service = service_of(exchange.path)
        end = exchange.started + exchange.seconds
        return any(start <= end and exchange.started <= stop for start, stop in windows[service])

    def ok(exchange: Exchange) -> bool:
        return exchange.status is not None and exchange.status < 500 and exchange.status != 429

    def share(items: list[Exchange]) -> float:
        return sum(map(ok, items)) / len(items) if items else 1.0

    lines = [
        f"  {'route':28s} {'requests':>8s} {'ok':>8s}   outside faults, +{recovery:g} s"
        f"   and + the breaker's {breaker_reset:g} s"
    ]
    reads = Check("reads through the gateway ≥ 99 % successful outside their service's faults", 0)
    by_route: dict[str, list[Exchange]] = defaultdict(list)
    for exchange in exchanges:
        by_route[exchange.route].append(exchange)
    for route, items in sorted(by_route.items()):
        outside = [e for e in items if not inside(e, strict)]
        beyond = [e for e in items if not inside(e, lenient)]
        lines.append(
            f"  {route:28s} {len(items):8d} {share(items):8.2%}   {len(outside):6d} "
            f"{share(outside):8.2%}   {len(beyond):6d} {share(beyond):8.2%}"
        )
        if route.startswith("GET "):
            reads.count += len(beyond)
            if share(beyond) < 0.99:
                failed = Counter((e.status, e.code) for e in beyond if not ok(e))
                reads.fail(f"{route}: {share(beyond):.2%} ({dict(failed.most_common(4))})")
    for kind in sorted({f.kind for f in faults}):
        spans = [(f.began, f.ended) for f in faults if f.kind == kind and f.began is not None]
        during = [
            e
            for e in exchanges
            if any(s is not None and t is not None and s <= e.started <= t for s, t in spans)
        ]
        if during:
            lines.append(f"  while {kind:20s} {len(during):8d} {share(during):8.2%}")
    return lines, reads
