"""The whole product through the gateway only: sign up, todos, the email, log out."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
import requests
from servicekit.testing import wait_for

from support import PostgresServer, Suite

pytestmark = pytest.mark.e2e

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer) -> Iterator[Suite]:
    suite = Suite(
        var_dir=tmp_path_factory.mktemp("journey"), env=postgres.suite_databases("journey")
    )
    suite.up()
    yield suite
    suite.down()


class Gateway:
    def __init__(self, suite: Suite) -> None:
        self.base = suite.url("api-gateway", "")
        self.headers: dict[str, str] = {}

    def call(self, method: str, path: str, **kwargs) -> requests.Response:  # type: ignore[no-untyped-def]
        return requests.request(
            method, self.base + path, headers=self.headers, timeout=10, **kwargs
        )


def mails(suite: Suite) -> list[EmailMessage]:
    """Every message the SMTP sink accepted (a Maildir under the suite's var/mail)."""
    folder = suite.mail_dir()
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for path in sorted(folder.iterdir())
    ]


def sign_up_and_log_in(gateway: Gateway, username: str) -> dict:
    registered = gateway.call(
        "POST",
        "/auth/register",
        json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
    )
    assert registered.status_code == 201, registered.text
    login = gateway.call("POST", "/auth/login", json={"username": username, "password": PASSWORD})
    assert login.status_code == 200, login.text
    tokens = login.json()
    gateway.headers = {"Authorization": f"Bearer {tokens['access']}"}
    return tokens


def test_a_completed_todo_sends_one_email_and_logout_locks_the_door(suite: Suite) -> None:
    gateway = Gateway(suite)
    tokens = sign_up_and_log_in(gateway, "ann")

    # when ann creates todos and completes one
    milk = gateway.call("POST", "/todos", json={"title": "buy milk", "priority": "high"}).json()
    gateway.call("POST", "/todos/", json={"title": "call mum"})
    pending = gateway.call("GET", "/todos?completed=false").json()
    completed = gateway.call("POST", f"/todos/{milk['id']}/complete")
    again = gateway.call("PUT", f"/todos/{milk['id']}/complete")

    # then the API answers as the contract says
    assert pending["count"] == 2
    assert completed.status_code == 200
    assert completed.json()["completed"] is True
    assert again.status_code == 200
    stats = gateway.call("GET", "/todos/stats").json()
    assert stats == {
        "total_todos": 2,
        "completed_todos": 1,
        "pending_todos": 1,
        "high_priority_todos": 1,
    }

    # and ann gets exactly two emails: the welcome (user.registered, through
    # user-service's outbox) and one for the completion, with the title in the subject
    def all_sent() -> bool:
        results = gateway.call("GET", "/notifications").json()["results"]
        return len(results) == 2 and all(n["status"] == "sent" for n in results)

    wait_for(all_sent, timeout=30, what="both notifications to be recorded as sent")
    subjects = sorted(m["Subject"] for m in mails(suite) if m["To"] == "ann@example.com")
    assert subjects == ["Todo completed: buy milk", "Welcome to Todo, ann"]
    notifications = gateway.call("GET", "/notifications").json()["results"]
    assert {n["event_type"] for n in notifications} == {"user.registered", "todo.completed"}
    assert {n["recipient"] for n in notifications} == {"ann@example.com"}

    # when she logs out, her access token is refused at the gateway at once
    logout = gateway.call("POST", "/auth/logout", json={"refresh": tokens["refresh"]})
    assert logout.status_code == 204
    refused = gateway.call("GET", "/todos")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")


def test_nobody_sees_anyone_elses_todos_or_notifications(suite: Suite) -> None:
    ann, bob = Gateway(suite), Gateway(suite)
    sign_up_and_log_in(ann, "ann2")
    sign_up_and_log_in(bob, "bob2")
    todo = ann.call("POST", "/todos", json={"title": "secret plan"}).json()

    for method in ("GET", "PATCH", "PUT", "DELETE"):
        assert bob.call(method, f"/todos/{todo['id']}", json={}).status_code == 404, method
    assert bob.call("POST", f"/todos/{todo['id']}/complete").status_code == 404
    assert bob.call("GET", "/todos").json()["count"] == 0
    bob_sees = bob.call("GET", "/notifications").json()["results"]
    assert {n["recipient"] for n in bob_sees} <= {"bob2@example.com"}
    assert ann.call("GET", f"/todos/{todo['id']}").json()["completed"] is False
