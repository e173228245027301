"""user-service down: todos keep working, notifications wait and retry, then go out once."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator

import pytest
import requests
from servicekit.testing import wait_for

from support import PostgresServer, Suite

pytestmark = pytest.mark.e2e

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def suite(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer) -> Iterator[Suite]:
    # Short retry backoff and breaker reset, so the outage fits in a test; enough retries
    # that they outlast the outage however slowly the machine stops and starts user-service.
    suite = Suite(
        var_dir=tmp_path_factory.mktemp("outage"),
        env={
            **postgres.suite_databases("notification_outage"),
            "NOTIFICATION_RETRY_BACKOFF_MAX": "2",
            "NOTIFICATION_MAX_RETRIES": "200",
            "USER_SERVICE_BREAKER_FAIL_MAX": "2",
            "USER_SERVICE_BREAKER_RESET_SECONDS": "2",
        },
    )
    suite.up()
    yield suite
    suite.down()


def subjects_to(suite: Suite, address: str) -> list[str]:
    folder = suite.mail_dir()
    messages = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in folder.iterdir()
    ]
    return sorted(str(m["Subject"]) for m in messages if m["To"] == address)


def test_notifications_wait_for_user_service_and_go_out_once(suite: Suite) -> None:
    gateway = suite.url("api-gateway", "")
    account = {"username": "cat", "email": "cat@example.com", "password": PASSWORD}
    assert requests.post(f"{gateway}/auth/register", json=account, timeout=10).status_code == 201
    login = requests.post(f"{gateway}/auth/login", json=account, timeout=10).json()
    bearer = {"Authorization": f"Bearer {login['access']}"}
    todo = requests.post(
        f"{gateway}/todos", json={"title": "water plants"}, headers=bearer, timeout=10
    ).json()
    wait_for(
        lambda: subjects_to(suite, "cat@example.com") == ["Welcome to Todo, cat"],
        timeout=30,
        what="the welcome email",
    )

    # (every service has fetched and cached user-service's public keys by now)
    assert requests.get(f"{gateway}/notifications", headers=bearer, timeout=10).ok

    # when user-service goes down
    assert suite.manage("stop", "user-service").returncode == 0

    # then its routes answer 503 fast while todos keep working (keys are cached)
    auth = requests.post(f"{gateway}/auth/login", json=account, timeout=5)
    assert auth.status_code == 503
    assert auth.json()["service"] == "user-service"
    completed = requests.post(f"{gateway}/todos/{todo['id']}/complete", headers=bearer, timeout=10)
    assert completed.status_code == 200

    # and the notification waits: retried, the breaker opens, no email yet
    def notification() -> dict:
        results = requests.get(f"{gateway}/notifications", headers=bearer, timeout=10).json()
        completions = [n for n in results["results"] if n["event_type"] == "todo.completed"]
        return completions[0] if completions else {"attempts": 0, "status": "not recorded"}

    wait_for(lambda: notification()["attempts"] >= 2, timeout=30, what="retries")
    assert notification()["status"] == "pending"
    assert "Todo completed: water plants" not in subjects_to(suite, "cat@example.com")
    wait_for(
        lambda: any(
            line.get("message") == "breaker_state_changed"
            for line in suite.log_lines("notification-worker")
        ),
        timeout=30,
        what="the worker to log its breaker opening",
    )

    # when user-service is back, the email goes out exactly once
    assert suite.manage("start", "user-service").returncode == 0
    wait_for(lambda: notification()["status"] != "pending", timeout=60, what="the email")
    assert notification()["status"] == "sent"
    assert subjects_to(suite, "cat@example.com") == [
        "Todo completed: water plants",
        "Welcome to Todo, cat",
    ]
