"""The compose stack on a real Docker engine, as a user runs it.

In this order, on one stack (the ``stack`` fixture built every image from the
local base and waited until every container was healthy):

1. a user's journey through the gateway's published port, down to both
   emails in the mail sink's HTTP API;
2. ``--scale todo-service=3``: requests reach all three replicas;
3. one todo-service replica and the notification worker crash mid-traffic:
   no request fails but with the 503/504 the gateway documents for a service
   that is down, and the restart policy brings both back;
4. ``down -v`` leaves no container, network or volume behind.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from servicekit.testing.servers import wait_for
from stack import REQUIRE_ENGINE_VARIABLE, Stack, engine_problem

# One line in the summary when there is no engine (the stack fixture fails
# instead where DEPLOY_REQUIRE_ENGINE is set).
if not os.environ.get(REQUIRE_ENGINE_VARIABLE) and (problem := engine_problem()):
    pytest.skip(f"the stack was not run on a container engine: {problem}", allow_module_level=True)

PASSWORD = "correct-horse-battery"


def register_and_log_in(stack: Stack, username: str) -> requests.Session:
    registered = requests.post(
        f"{stack.gateway}/auth/register",
        json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    login = requests.post(
        f"{stack.gateway}/auth/login",
        json={"username": username, "password": PASSWORD},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {login.json()['access']}"
    return session


def mail_subjects(stack: Stack, recipient: str) -> list[str]:
    """Subjects of the mails the sink caught for ``recipient`` (Mailpit's API)."""
    listing = requests.get(f"{stack.mailpit}/api/v1/messages", timeout=10)
    listing.raise_for_status()
    return [
        message["Subject"]
        for message in listing.json()["messages"]
        if recipient in {to["Address"] for to in message["To"]}
    ]


def create_todo(session: requests.Session, stack: Stack, title: str) -> dict[str, Any]:
    # With an Idempotency-Key the gateway may retry the POST on another replica.
    created = session.post(
        f"{stack.gateway}/todos",
        json={"title": title},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    todo: dict[str, Any] = created.json()
    return todo


def test_a_user_registers_completes_a_todo_and_gets_both_emails(stack: Stack) -> None:
    # given a new user, through the gateway's published port
    ann = register_and_log_in(stack, "ann")

    # when she creates a todo and completes it
    todo = create_todo(ann, stack, "buy milk")
    completed = ann.post(f"{stack.gateway}/todos/{todo['id']}/complete", timeout=10)
    assert completed.status_code == 200, completed.text
    assert completed.json()["completed"] is True

    # then the relays, Redis, the worker and SMTP deliver both emails
    wait_for(
        lambda: len(mail_subjects(stack, "ann@example.com")) == 2, timeout=60, what="two emails"
    )
    assert sorted(mail_subjects(stack, "ann@example.com")) == [
        "Todo completed: buy milk",
        "Welcome to Todo, ann",
    ]
    # and her notifications are listed through the gateway too
    listed = ann.get(f"{stack.gateway}/notifications", timeout=10)
    assert listed.status_code == 200, listed.text


def test_scaled_to_three_replicas_requests_reach_every_one(
    stack: Stack, figures: dict[str, str]
) -> None:
    # given three todo-service replicas, all healthy
    stack.compose("up", "--detach", "--wait", "--scale", "todo-service=3", "--no-recreate")
    replicas = stack.containers("todo-service")
    assert len(replicas) == 3

    # when a user sends requests, each with an id of its own
    bob = register_and_log_in(stack, "bob")
    sent = [uuid.uuid4().hex for _ in range(30)]
    # (The gateway re-resolves the service name every GATEWAY_DNS_REFRESH_SECONDS.)
    wait_for(
        lambda: _served_by(stack, replicas, bob, 6) == 3,
        timeout=30,
        what="the gateway to know all three replicas",
    )
    for request_id in sent:
        listed = bob.get(f"{stack.gateway}/todos", headers={"X-Request-ID": request_id}, timeout=10)
        assert listed.status_code == 200, listed.text

    # then each replica's own log shows some of them, and together all of them
    per_replica = {replica: _request_ids(stack, replica) & set(sent) for replica in replicas}
    assert all(per_replica.values()), {r[:12]: len(ids) for r, ids in per_replica.items()}
    assert set().union(*per_replica.values()) == set(sent)
    figures["30 requests over 3 replicas"] = "/".join(str(len(ids)) for ids in per_replica.values())


def _request_ids(stack: Stack, container: str) -> set[str]:
    """The request ids in a container's access log (one JSON object per line)."""
    lines = (json.loads(line) for line in stack.logs(container).splitlines() if line[:1] == "{")
    return {line["request_id"] for line in lines if line.get("message") == "request"}


def _served_by(stack: Stack, replicas: list[str], session: requests.Session, count: int) -> int:
    """How many of ``replicas`` served one of ``count`` fresh requests."""
    fresh = {uuid.uuid4().hex for _ in range(count)}
    for request_id in fresh:
        session.get(f"{stack.gateway}/todos", headers={"X-Request-ID": request_id}, timeout=10)
    return sum(1 for replica in replicas if _request_ids(stack, replica) & fresh)


class Traffic(threading.Thread):
    """A client that lists and creates todos through the gateway until stopped."""

    def __init__(self, stack: Stack, session: requests.Session) -> None:
        super().__init__(name="traffic", daemon=True)
        self.stack, self.session = stack, session
        self.statuses: Counter[int] = Counter()
        self.failures: list[tuple[float, int, str]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                if n % 3:
                    response = self.session.get(f"{self.stack.gateway}/todos", timeout=15)
                else:
                    response = self.session.post(
                        f"{self.stack.gateway}/todos",
                        json={"title": f"traffic {n}"},
                        headers={"Idempotency-Key": uuid.uuid4().hex},
                        timeout=15,
                    )
                status, text = response.status_code, response.text[:200]
            except requests.RequestException as exc:
                status, text = 0, str(exc)
            self.statuses[status] += 1
            if status >= 400 or status == 0:
                self.failures.append((time.monotonic(), status, text))
            # About 5 requests a second: under the gateway's 600/min per user.
            self.stop.wait(0.2)


def test_a_crashed_replica_and_worker_come_back_and_requests_only_see_the_documented_errors(
    stack: Stack, figures: dict[str, str]
) -> None:
    carol = register_and_log_in(stack, "carol")
    replica = stack.containers("todo-service")[0]
    (worker,) = stack.containers("notification-worker")
    restarts = {c: stack.inspect(c)["RestartCount"] for c in (replica, worker)}
    traffic = Traffic(stack, carol)
    traffic.start()
    try:
        # given traffic flowing through the gateway
        time.sleep(3)

        # when a todo-service replica and the notification worker crash
        crashed_at = time.monotonic()
        crashed_since = datetime.now(UTC).isoformat()
        stack.crash(replica)
        stack.crash(worker)
        # and todos are completed while the worker is down
        todos = [create_todo(carol, stack, f"while down {n}") for n in range(3)]
        for todo in todos:
            done = carol.post(
                f"{stack.gateway}/todos/{todo['id']}/complete",
                headers={"Idempotency-Key": uuid.uuid4().hex},
                timeout=15,
            )
            assert done.status_code == 200, done.text

        # then the restart policy brings both back, healthy
        for container in (replica, worker):
            wait_for(
                lambda c=container: (
                    stack.inspect(c)["RestartCount"] > restarts[c] and stack.health(c) == "healthy"
                ),
                timeout=150,
                what=f"{stack.inspect(container)['Name']} to restart and be healthy",
            )
        back_at = time.monotonic()
        time.sleep(3)
    finally:
        traffic.stop.set()
        traffic.join(timeout=30)

    figures["crash: back healthy after"] = f"{back_at - crashed_at:.0f} s"
    figures["crash: responses"] = ", ".join(
        f"{count} x {status or 'no response'}" for status, count in sorted(traffic.statuses.items())
    )
    # and no request failed but with the 503/504 of a service that is down,
    # and only while the replica was down
    assert sum(traffic.statuses.values()) > 50, traffic.statuses
    unexpected = [f for f in traffic.failures if f[1] not in (503, 504)]
    assert not unexpected, unexpected
    assert all(crashed_at <= at <= back_at for at, _, _ in traffic.failures), traffic.failures

    # and the restarted worker sends the emails of the todos completed while it was down
    def completion_mails() -> list[str]:
        return [s for s in mail_subjects(stack, "carol@example.com") if "while down" in s]

    wait_for(lambda: len(completion_mails()) == 3, timeout=120, what="three completion emails")
    assert sorted(completion_mails()) == [f"Todo completed: while down {n}" for n in range(3)]
    # and the restarted replica serves again
    wait_for(
        lambda: _served_by(stack, [replica], carol, 6) == 1,
        timeout=60,
        what="the restarted replica to serve requests",
    )
    assert stack.logs(replica, since=crashed_since)


def test_down_with_volumes_leaves_nothing_behind(stack: Stack) -> None:
    # when the stack is taken down with its volumes
    stack.compose("down", "--volumes", "--remove-orphans")

    # then no container, network or volume of it is left
    assert stack.leftovers() == {"containers": [], "networks": [], "volumes": []}
