"""``manage-all.sh`` runs the real suite: start, health, readiness, stop, bad settings."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
import requests
from servicekit.testing import port_is_listening, wait_for

from support import (
    DATABASE_VARIABLES,
    MANAGE_ALL,
    SERVICES,
    WORKERS,
    process_alive,
)

pytestmark = pytest.mark.e2e


def assert_all_healthy(suite) -> None:
    for service in SERVICES:
        health = suite.get(service, "/health")
        ready = suite.get(service, "/health/ready")

        assert health.status_code == 200, f"{service} /health: {health.text}"
        body = health.json()
        assert body == {"status": "ok", "service": service, "version": body["version"]}
        assert ready.status_code == 200, f"{service} /health/ready: {ready.text}"


def assert_nothing_left(suite, pids: dict[str, int]) -> None:
    alive = [name for name, pid in pids.items() if process_alive(pid)]
    assert not alive, f"still running after down: {alive}"
    assert suite.supervisor_pid() is None, "supervisord is still running after down"
    ports = {**suite.ports, "flower": suite.flower_port}
    listening = [s for s, port in ports.items() if port_is_listening(port)]
    assert not listening, f"ports still open after down: {listening}"


def test_up_starts_four_healthy_services_and_down_leaves_nothing_behind(make_suite) -> None:
    # given a fresh copy on its own ports, with SQLite, embedded Redis and the SMTP sink
    suite = make_suite(embedded=True)

    # when
    suite.up()

    # then
    assert_all_healthy(suite)
    pids = suite.pids()
    assert set(pids) == {*SERVICES, *WORKERS, "redis", "smtp"}
    supervisor = suite.supervisor_pid()
    assert supervisor is not None
    assert process_alive(supervisor)
    suite.down()
    assert_nothing_left(suite, {**pids, "supervisord": supervisor})


def test_the_same_with_postgresql_and_an_external_redis(
    make_suite, postgres, external_redis
) -> None:
    # given databases on a real PostgreSQL server and a Redis the suite does not own
    databases = postgres.suite_databases("lifecycle")
    suite = make_suite(REDIS_URL=external_redis.url, **databases)

    # when
    suite.up()

    # then
    assert_all_healthy(suite)
    pids = suite.pids()
    assert "redis" not in pids
    assert "smtp" in pids
    ready = suite.get("todo-service", "/health/ready").json()
    assert ready["checks"]["database"]["status"] == "ok"
    suite.down()
    assert_nothing_left(suite, pids)
    assert external_redis.process is not None
    assert external_redis.process.poll() is None, "down must not stop a Redis it did not start"


def test_readiness_names_redis_while_it_is_stopped_and_recovers(make_suite) -> None:
    suite = make_suite(embedded=True)
    suite.up()

    # when the embedded Redis stops
    assert suite.manage("stop", "redis").returncode == 0

    # then every service is not ready, naming the redis check
    for service in SERVICES:
        ready = suite.get(service, "/health/ready")
        assert ready.status_code == 503, f"{service}: {ready.text}"
        assert ready.json()["status"] == "unavailable"
        assert ready.json()["checks"]["redis"]["status"] == "unavailable"

    # and when it is back, they are ready again
    assert suite.manage("start", "redis").returncode == 0
    for service in SERVICES:
        assert suite.get(service, "/health/ready").status_code == 200


def test_readiness_names_the_database_while_postgresql_is_stopped(
    make_suite, postgres, external_redis
) -> None:
    databases = postgres.suite_databases("outage")
    suite = make_suite(REDIS_URL=external_redis.url, **databases)
    suite.up()

    postgres.stop()
    try:
        for service in DATABASE_VARIABLES:
            ready = suite.get(service, "/health/ready")
            assert ready.status_code == 503, f"{service}: {ready.text}"
            checks = ready.json()["checks"]
            assert checks["database"]["status"] == "unavailable"
            assert checks["redis"]["status"] == "ok"
    finally:
        postgres.start()

    for service in DATABASE_VARIABLES:
        wait_for(
            lambda service=service: suite.get(service, "/health/ready").status_code == 200,
            timeout=10,
            what=f"{service} ready again after PostgreSQL came back",
        )


def test_a_bad_setting_stops_up_naming_the_service_and_the_variable(make_suite) -> None:
    suite = make_suite(embedded=True, TODO_DATABASE_URL="nonsense")

    result = suite.manage("up", "-d")

    assert result.returncode != 0
    assert "todo-service" in result.stderr
    assert "todo-service: configuration error: DATABASE_URL: 'nonsense'" in result.stderr
    assert not [pid for pid in suite.pids().values() if process_alive(pid)]


def test_a_bad_gateway_setting_is_reported_by_up(make_suite) -> None:
    suite = make_suite(embedded=True, GATEWAY_UPSTREAM_TIMEOUT="-3")

    result = suite.manage("up", "-d")

    assert result.returncode != 0
    assert "api-gateway exited during start-up" in result.stderr
    assert "GATEWAY_UPSTREAM_TIMEOUT: '-3' must be a finite number" in result.stderr


def test_up_again_says_it_runs_and_down_twice_is_harmless(make_suite) -> None:
    suite = make_suite(embedded=True)
    suite.up()
    pids = suite.pids()

    again = suite.manage("up", "-d")
    suite.down()
    second_down = suite.manage("down")

    assert again.returncode == 0
    assert "already running" in again.stdout
    assert suite.pids() == {} or not any(process_alive(p) for p in suite.pids().values())
    assert second_down.returncode == 0
    assert "Nothing is running" in second_down.stdout
    assert_nothing_left(suite, pids)


def test_foreground_up_stops_everything_on_ctrl_c(make_suite) -> None:
    suite = make_suite(embedded=True)
    process = subprocess.Popen(
        [str(MANAGE_ALL), "up"],
        env=suite.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # As in a terminal: SIGINT handled normally even if this test runner ignores it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        wait_for(
            lambda: _ready(suite, "api-gateway") or process.poll() is not None,
            timeout=90,
            what="the foreground suite to come up",
        )
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        pids = suite.pids()

        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()

    assert_nothing_left(suite, pids)


def _ready(suite, service: str) -> bool:
    try:
        return suite.get(service, "/health/ready").status_code == 200
    except requests.ConnectionError:
        return False


def test_request_ids_reach_the_json_logs(make_suite) -> None:
    suite = make_suite(embedded=True)
    suite.up()

    response = suite.get("todo-service", "/health", headers={"X-Request-ID": "e2e-trace-1"})
    time.sleep(0.2)  # the log line is written after the response

    assert response.headers["X-Request-ID"] == "e2e-trace-1"
    lines = [line for line in suite.log_lines("todo-service") if line.get("path") == "/health"]
    line = next(line for line in lines if line["request_id"] == "e2e-trace-1")
    assert line["service"] == "todo-service"
    assert line["status"] == 200
    assert line["method"] == "GET"
    assert isinstance(line["duration_ms"], float)


def test_the_embedded_redis_and_smtp_ports_are_never_ones_the_suite_set_aside(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import manage_all.settings as suite_settings

    # given a kernel that offers, as free, the ports the services are configured for
    # (nothing listens on them yet: the services start after Redis and the sink)
    variables = [*SERVICES.values(), "FLOWER_PORT"]
    environ = {variable: str(9001 + number) for number, variable in enumerate(variables)}
    offered = iter([9002, 9005, 9100, 9001, 9100, 9200])
    closed: list[int] = []

    class Socket:
        def bind(self, address: tuple[str, int]) -> None:
            self.port = next(offered)

        def getsockname(self) -> tuple[str, int]:
            return ("127.0.0.1", self.port)

        def close(self) -> None:
            closed.append(self.port)

    monkeypatch.setattr(suite_settings.socket, "socket", Socket)

    # when up resolves the ports of the processes it starts first
    settings = suite_settings.resolve(suite_settings.Paths(tmp_path), environ)

    # then Redis and the SMTP sink get ports of their own, and every probe is let go
    assert (settings["EMBEDDED_REDIS_PORT"], settings["SMTP_PORT"]) == ("9100", "9200")
    assert sorted(closed) == [9001, 9002, 9005, 9100, 9100, 9200]
