"""Events survive Redis going away: every completed todo is emailed once.

docs/spec/targets.md, "Reliability".

Real processes throughout: todos are completed through the gateway, the outbox
relay publishes, the Celery worker sends through the SMTP sink, and the
embedded Redis (broker, rate limits, denylist) is stopped and started with
``manage-all.sh stop|start redis``. What is checked is what a user sees: the
mailbox.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import redis
import requests
from servicekit.testing import wait_for

from support import PostgresServer, Suite

pytestmark = pytest.mark.e2e

PASSWORD = "correct-horse-battery-staple"
QUEUE = "notification.events"
SUBJECT = "Todo completed: "


@pytest.fixture
def suite(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer) -> Iterator[Suite]:
    suite = Suite(
        var_dir=tmp_path_factory.mktemp("delivery"),
        env={
            **postgres.suite_databases("delivery"),
            "NOTIFICATION_RETRY_BACKOFF_MAX": "2",
            # One client completes many todos quickly: not what this test is about.
            "GATEWAY_RATE_LIMIT": "100000/min",
        },
    )
    suite.up()
    yield suite
    suite.down()


class User:
    def __init__(self, suite: Suite, username: str) -> None:
        self.gateway = suite.url("api-gateway", "")
        account = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        assert requests.post(f"{self.gateway}/auth/register", json=account, timeout=10).ok
        login = requests.post(f"{self.gateway}/auth/login", json=account, timeout=10).json()
        self.headers = {"Authorization": f"Bearer {login['access']}"}

    def create(self, title: str) -> int:
        created = requests.post(
            f"{self.gateway}/todos", json={"title": title}, headers=self.headers, timeout=10
        )
        assert created.status_code == 201, created.text
        return int(created.json()["id"])

    def complete(self, todo_id: int) -> requests.Response:
        return requests.post(
            f"{self.gateway}/todos/{todo_id}/complete", headers=self.headers, timeout=10
        )


def completion_mail(suite: Suite) -> Counter[str]:
    """How many times each todo's completion email arrived, by subject."""
    subjects: Counter[str] = Counter()
    for path in suite.mail_dir().iterdir():
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if str(message["Subject"]).startswith(SUBJECT):
            subjects[str(message["Subject"]).removeprefix(SUBJECT)] += 1
    return subjects


def test_fifty_completions_while_redis_is_down_for_15_s_are_all_emailed_once(
    suite: Suite,
) -> None:
    user = User(suite, "dana")
    todos = {user.create(f"task {n}"): f"task {n}" for n in range(50)}

    assert suite.manage("stop", "redis").returncode == 0
    started = time.monotonic()
    statuses = [user.complete(todo_id).status_code for todo_id in todos]
    # the API keeps taking writes for the whole outage
    time.sleep(max(0.0, 15 - (time.monotonic() - started)))
    assert suite.manage("start", "redis").returncode == 0

    assert statuses == [200] * 50
    wait_for(
        lambda: len(completion_mail(suite)) == 50,
        timeout=90,
        what="50 completion emails after Redis came back",
    )
    time.sleep(3)  # a duplicate would arrive within this
    mail = completion_mail(suite)
    assert set(mail) == set(todos.values())
    assert [title for title, count in mail.items() if count > 1] == [], "emails sent twice"


def test_redis_restarted_three_times_while_todos_complete_loses_no_email(suite: Suite) -> None:
    user = User(suite, "erin")
    todos = {user.create(f"job {n}"): f"job {n}" for n in range(60)}
    completed: list[int] = []
    failures: list[str] = []

    def complete_steadily() -> None:
        for todo_id in todos:
            response = user.complete(todo_id)
            if response.status_code == 200:
                completed.append(todo_id)
            else:
                failures.append(f"{todo_id}: {response.status_code} {response.text[:200]}")
            time.sleep(0.5)

    worker = threading.Thread(target=complete_steadily)
    worker.start()
    try:
        for _ in range(3):
            time.sleep(3)
            assert suite.manage("stop", "redis").returncode == 0
            time.sleep(2)
            assert suite.manage("start", "redis").returncode == 0
            # the worker consumes again: emails keep coming after each restart
            arrived = len(completion_mail(suite))
            wait_for(
                lambda arrived=arrived: len(completion_mail(suite)) > min(arrived, 59),
                timeout=60,
                what="the worker consuming again after a Redis restart",
            )
    finally:
        worker.join(timeout=120)

    assert failures == []
    assert len(completed) == 60
    wait_for(
        lambda: len(completion_mail(suite)) == 60,
        timeout=90,
        what="an email for each of the 60 completed todos",
    )
    time.sleep(3)
    mail = completion_mail(suite)
    assert [title for title, count in mail.items() if count > 1] == [], "emails sent twice"


def test_an_event_the_broker_lost_is_emailed_about_twenty_seconds_later(suite: Suite) -> None:
    # Redis can lose a message it has taken (a restart in the instant between a
    # worker's pop and its bookkeeping, or a Redis without persistence). Made
    # certain here: the message is taken out of the queue while no worker runs.
    user = User(suite, "fran")
    todo_id = user.create("water the ferns")
    broker = redis.Redis.from_url(suite.settings()["REDIS_URL"])
    suite.stop("notification-worker")
    try:
        assert user.complete(todo_id).status_code == 200
        wait_for(
            lambda: broker.llen(QUEUE) > 0, timeout=30, what="the completion event in the queue"
        )
        lost = time.monotonic()
        broker.delete(QUEUE)
    finally:
        suite.start("notification-worker")

    # the relay sees no receipt and nothing waiting: it publishes the event again
    wait_for(
        lambda: "water the ferns" in completion_mail(suite),
        timeout=60,
        what="the email of the event the broker lost",
    )
    late = time.monotonic() - lost
    time.sleep(3)  # a duplicate would arrive within this
    assert completion_mail(suite)["water the ferns"] == 1
    # OUTBOX_REDELIVER_LOST_AFTER_SECONDS (20) and a sweep, not OUTBOX_REDELIVER_AFTER_SECONDS
    assert 15 < late < 50, late
