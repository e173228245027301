"""Deleting an account: the saga across three services and three databases, with real processes.

Each test starts its own copy of the suite (``manage-all.sh up -d``), drives it
through the gateway like a client, breaks it like an operator would (stop a
service, SIGKILL the saga worker), and reads the three PostgreSQL databases
directly to check what is left.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import psycopg2
import pytest
import requests
from servicekit.testing import wait_for

from support import DATABASE_VARIABLES, PostgresServer, Suite

pytestmark = pytest.mark.e2e

PASSWORD = "correct-horse-battery-staple"


class Client:
    """One user talking to the suite through the gateway."""

    def __init__(self, suite: Suite, username: str) -> None:
        self.gateway = suite.url("api-gateway", "")
        self.account = {
            "username": username,
            "email": f"{username}@example.com",
            "password": PASSWORD,
        }
        registered = requests.post(f"{self.gateway}/auth/register", json=self.account, timeout=10)
        assert registered.status_code == 201, registered.text
        self.id = registered.json()["id"]
        login = self.login()
        assert login.status_code == 200, login.text
        self.access = login.json()["access"]

    def login(self) -> requests.Response:
        return requests.post(f"{self.gateway}/auth/login", json=self.account, timeout=10)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.access}"}
        return requests.request(
            method, f"{self.gateway}{path}", headers=headers, timeout=10, **kwargs
        )

    def todo_count(self) -> int:
        listed = self.request("GET", "/todos")
        assert listed.status_code == 200, listed.text
        return int(listed.json()["count"])

    def add_todos(self, *titles: str) -> list[int]:
        ids = []
        for title in titles:
            created = self.request("POST", "/todos", json={"title": title})
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        return ids

    def delete_account(self) -> str:
        """Start the deletion; the saga's path (``Location``)."""
        response = self.request("DELETE", "/users/me", json={"password": PASSWORD})
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "running"
        return response.headers["Location"]


def saga(url: str) -> dict[str, Any]:
    response = requests.get(url, timeout=10)  # no token: the id is the secret
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for_saga(suite: Suite, path: str, status: str, *, timeout: float) -> dict[str, Any]:
    """Poll user-service itself (ten times a second would hit the gateway's anonymous limit),
    then read the result once through the gateway, as a client would."""
    direct = suite.url("user-service", path)
    wait_for(lambda: saga(direct)["status"] == status, timeout=timeout, what=f"the saga {status}")
    return saga(suite.url("api-gateway", path))


def rows(suite: Suite, service: str, sql: str, *params: Any) -> int:
    """A count straight from one service's PostgreSQL database, not through its API."""
    url = suite.env[DATABASE_VARIABLES[service]]
    with closing(psycopg2.connect(url)) as connection, connection.cursor() as cursor:
        cursor.execute(sql, params)
        (count,) = cursor.fetchone()
    return int(count)


def data_of(suite: Suite, user_id: int) -> dict[str, int]:
    return {
        "users": rows(
            suite, "user-service", "SELECT count(*) FROM accounts_user WHERE id = %s", user_id
        ),
        "todos": rows(
            suite, "todo-service", "SELECT count(*) FROM todos_todo WHERE user_id = %s", user_id
        ),
        "notifications": rows(
            suite,
            "notification-service",
            "SELECT count(*) FROM notifications_notification WHERE user_id = %s",
            user_id,
        ),
        "preferences": rows(
            suite,
            "notification-service",
            "SELECT count(*) FROM notifications_preference WHERE user_id = %s",
            user_id,
        ),
    }


def signal_group(suite: Suite, process: str, sig: signal.Signals) -> None:
    os.killpg(suite.pids()[process], sig)


@pytest.fixture
def suite(
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    postgres: PostgresServer,
) -> Iterator[Suite]:
    env = {**postgres.suite_databases("deletion"), **getattr(request, "param", {})}
    suite = Suite(var_dir=tmp_path_factory.mktemp("deletion"), env=env)
    suite.up()
    yield suite
    suite.down()


def with_user_data(suite: Suite, username: str) -> Client:
    """A user with todos, one completed (so a notification exists) and preferences set."""
    client = Client(suite, username)
    first, _ = client.add_todos("buy milk", "water plants")
    assert client.request("POST", f"/todos/{first}/complete").status_code == 200
    assert client.request(
        "PATCH", "/notifications/preferences", json={"email_on_todo_completed": True}
    ).ok
    wait_for(
        lambda: data_of(suite, client.id)["notifications"] >= 2,  # welcome + completed
        timeout=30,
        what="the user's notifications",
    )
    return client


def test_deleting_an_account_removes_it_from_all_three_databases(suite: Suite) -> None:
    alice = with_user_data(suite, "alice")
    bob = Client(suite, "bob")
    bob.add_todos("bob's own")
    before = data_of(suite, alice.id)
    assert before["users"] == 1
    assert before["todos"] == 2

    path = alice.delete_account()
    done = wait_for_saga(suite, path, "completed", timeout=60)

    assert [step["status"] for step in done["steps"]] == ["succeeded"] * 6
    assert data_of(suite, alice.id) == {
        "users": 0,
        "todos": 0,
        "notifications": 0,
        "preferences": 0,
    }
    # the old token and the password are both dead
    assert alice.request("GET", "/todos").status_code == 401
    assert alice.login().status_code == 401
    # and nobody else lost anything
    assert data_of(suite, bob.id)["todos"] == 1
    assert bob.todo_count() == 1


@pytest.mark.parametrize("suite", [{"SAGA_RETRY_BUDGET_SECONDS": "5"}], indirect=True)
def test_with_todo_service_down_the_saga_compensates_and_the_account_is_intact(
    suite: Suite,
) -> None:
    alice = with_user_data(suite, "alice")
    before = data_of(suite, alice.id)
    assert suite.manage("stop", "todo-service").returncode == 0

    started = time.monotonic()
    path = alice.delete_account()

    def locked() -> bool:
        return saga(suite.url("user-service", path))["steps"][0]["status"] == "succeeded"

    # while the saga runs, the account is locked (the semantic lock)
    wait_for(locked, timeout=10, what="the account locked")
    refused = alice.login()
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "account_locked"
    failed = wait_for_saga(suite, path, "failed", timeout=30)
    elapsed = time.monotonic() - started

    assert "erase_todos failed (out of retry budget)" in failed["reason"]
    assert elapsed < 5 + 10, f"compensated after {elapsed:.1f} s"  # budget + sweep + backoff
    steps = {step["name"]: step["status"] for step in failed["steps"]}
    assert steps["unlock_account"] == "succeeded"
    assert "restore_todos" not in steps  # todo-service never got the erase: nothing to undo
    # the account works again, and once todo-service is back every todo is there
    relogin = alice.login()
    assert relogin.status_code == 200
    alice.access = relogin.json()["access"]
    assert suite.manage("start", "todo-service").returncode == 0
    assert alice.todo_count() == 2
    assert data_of(suite, alice.id) == before


@pytest.mark.parametrize(
    "suite",
    [{"SAGA_LEASE_SECONDS": "12", "SAGA_HTTP_READ_TIMEOUT": "2"}],
    indirect=True,
)
def test_a_saga_worker_killed_mid_saga_is_resumed_by_the_next_one(suite: Suite) -> None:
    alice = with_user_data(suite, "alice")
    # notification-service hangs, so the worker is caught inside erase_notifications
    signal_group(suite, "notification-service", signal.SIGSTOP)
    try:
        path = alice.delete_account()
        url = suite.url("user-service", path)

        def in_erase_notifications() -> bool:
            steps = {step["name"]: step for step in saga(url)["steps"]}
            return steps["erase_notifications"]["attempts"] >= 1

        wait_for(in_erase_notifications, timeout=30, what="the saga at erase_notifications")
        signal_group(suite, "user-saga-worker", signal.SIGKILL)
    finally:
        signal_group(suite, "notification-service", signal.SIGCONT)

    assert saga(url)["status"] == "running"
    assert suite.manage("start", "user-saga-worker").returncode == 0
    done = wait_for_saga(suite, path, "completed", timeout=60)

    steps = {step["name"]: step for step in done["steps"]}
    assert steps["erase_notifications"]["attempts"] >= 2  # the interrupted step, repeated
    assert data_of(suite, alice.id) == {
        "users": 0,
        "todos": 0,
        "notifications": 0,
        "preferences": 0,
    }
