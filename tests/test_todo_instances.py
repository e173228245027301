"""Three todo-service instances behind the gateway; one is killed.

docs/spec/targets.md, "Reliability".

``manage-all.sh`` runs one instance per service. The other two are started
here the way ``manage-all.sh`` starts its own (``manage_all.run``: the project
folder, the service's environment from the suite's resolved settings, its own ``PORT``,
``gunicorn -c gunicorn.conf.py`` in a process group of its own), and the
gateway is given all three in ``TODO_SERVICE_URL``. All three use the suite's
one todo database (PostgreSQL, as in production), so a todo written through
one instance is listed through any other.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator

import pytest
import requests
from servicekit.testing import free_ports, wait_for

from gateway_support import bearer, register_and_login
from support import ROOT, PostgresServer, Suite

pytestmark = pytest.mark.e2e


class Instance:
    """One more todo-service gunicorn, as ``manage-all.sh start todo-service`` would run it."""

    def __init__(self, suite: Suite, port: int) -> None:
        self.suite, self.port = suite, port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = self.suite.spawn_in_service(
            "todo-service",
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "-c",
            "gunicorn.conf.py",
            log=f"todo-service-{self.port}",
            PORT=str(self.port),
        )

    def ready(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.port}/health/ready"
            return requests.get(url, timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    def kill(self) -> None:
        """SIGKILL to the whole process group: the master and its workers, no goodbye."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def three_instances(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer
) -> Iterator[tuple[Suite, list[Instance]]]:
    suite = Suite(
        var_dir=tmp_path_factory.mktemp("three-todos"), env=postgres.suite_databases("instances")
    )
    taken = {*suite.ports.values(), suite.flower_port}  # chosen, not bound yet
    extra = [Instance(suite, port) for port in [p for p in free_ports(8) if p not in taken][:2]]
    ports = [suite.ports["todo-service"], *(instance.port for instance in extra)]
    suite.env["TODO_SERVICE_URL"] = ",".join(f"http://127.0.0.1:{port}" for port in ports)
    try:
        suite.up()
        for instance in extra:
            instance.start()
        wait_for(lambda: all(i.ready() for i in extra), timeout=60, what="two more todo-services")
        yield suite, extra
    finally:
        for instance in extra:
            instance.kill()
        suite.down()


def test_one_of_three_todo_instances_killed_gets_keep_working_and_posts_never_duplicate(
    three_instances: tuple[Suite, list[Instance]],
) -> None:
    suite, (victim, _) = three_instances
    gateway = suite.url("api-gateway", "")
    auth = bearer(register_and_login(suite)["access"])

    # given the gateway spreads requests over all three instances
    def instances_used() -> set[str]:
        return {
            line["instance"]
            for line in suite.log_lines("api-gateway")
            if line.get("upstream") == "todo-service"
        }

    for _ in range(9):
        assert requests.get(f"{gateway}/todos", headers=auth, timeout=10).status_code == 200
    wait_for(
        lambda: len(instances_used()) == 3,
        timeout=5,
        what="the gateway's access log to show all three todo-service instances",
    )

    # when one instance is killed (SIGKILL) in the middle of a stream of GETs and POSTs
    gets: list[int] = []
    posts: dict[str, int] = {}
    halfway = threading.Event()

    def traffic() -> None:
        for number in range(60):
            if number == 20:
                halfway.set()
            gets.append(requests.get(f"{gateway}/todos", headers=auth, timeout=10).status_code)
            title = f"post {number}"
            response = requests.post(
                f"{gateway}/todos", json={"title": title}, headers=auth, timeout=10
            )
            posts[title] = response.status_code

    sender = threading.Thread(target=traffic)
    sender.start()
    assert halfway.wait(timeout=60), "the traffic did not get going"
    victim.kill()
    sender.join(timeout=120)
    assert not sender.is_alive(), "the traffic did not finish"

    # then every GET succeeded
    failed_gets = [status for status in gets if status != 200]
    assert not failed_gets, f"GETs failed after the kill: {failed_gets} (of {len(gets)})"
    # and a POST may have failed, but none was written twice, and every 201 was written once
    assert set(posts.values()) <= {201, 502, 503, 504}, posts
    listed = requests.get(f"{gateway}/todos?page_size=100", headers=auth, timeout=10).json()
    titles = [todo["title"] for todo in listed["results"]]
    duplicated = sorted({title for title in titles if titles.count(title) > 1})
    assert not duplicated, f"POSTs written more than once: {duplicated}"
    missing = sorted(
        title for title, status in posts.items() if status == 201 and title not in titles
    )
    assert not missing, f"POSTs answered 201 but not stored: {missing}"
    assert listed["count"] == len(titles), "page_size=100 should list every todo"
    print(f"after the kill: {len(gets)} GETs all 200; POST statuses {sorted(posts.values())}")
