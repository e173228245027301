"""servicekit.metrics: /metrics, the request and breaker series, the multiprocess directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from pytest_django import Settings

from servicekit import metrics
from servicekit.breaker import CircuitBreaker
from servicekit.http import HttpClient, UpstreamUnavailable


def value(text: str, series: str) -> float:
    """The sample of ``series`` (``name{labels}`` exactly as exposed), 0 when absent."""
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def scrape(client: Client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return response.content.decode()


def test_requests_are_counted_and_timed_by_url_pattern_and_status(client: Client) -> None:
    series = 'http_requests_total{method="GET",route="/errors/quota",status="429"}'
    timed = 'http_request_duration_seconds_count{method="GET",route="/errors/quota",status="429"}'
    before = scrape(client)

    # when a view answers twice
    client.get("/errors/quota")
    client.get("/errors/quota/")

    # then both are counted under the route, and a path nothing matches is "unmatched"
    client.get("/no/such/page/42")
    after = scrape(client)
    assert value(after, series) == value(before, series) + 1
    assert value(after, series.replace("/errors/quota", "/errors/quota/")) >= 1
    assert value(after, timed) == value(before, timed) + 1
    assert 'route="unmatched",status="404"' in after
    assert "/no/such/page/42" not in after


def test_an_invented_method_is_counted_as_other(client: Client) -> None:
    # when a client sends methods nobody defined (any token is a valid method)
    for method in ("BREW", "WHEN", "PROPFIND"):
        client.generic(method, "/errors/quota")

    # then they share one label value instead of each adding a series
    after = scrape(client)
    assert 'method="other",route="/errors/quota"' in after
    assert not re.search(r'method="(BREW|WHEN|PROPFIND)"', after)


def test_a_metrics_token_closes_the_door(client: Client, settings: Settings) -> None:
    settings.SERVICEKIT = {**settings.SERVICEKIT, "METRICS_TOKEN": "s3cret"}

    refused = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    allowed = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")

    assert refused.status_code == 401
    assert refused.json()["code"] == "not_authenticated"
    assert "METRICS_TOKEN" in refused.json()["detail"]
    assert wrong.status_code == 401
    assert allowed.status_code == 200


def test_the_breaker_state_gauge_follows_the_breaker(client: Client) -> None:
    breaker = CircuitBreaker(fail_max=1, reset_timeout=60, name="metrics-test-upstream")
    series = 'circuit_breaker_state{breaker="metrics-test-upstream"}'
    assert value(scrape(client), series) == 0

    breaker.open()
    assert value(scrape(client), series) == 2
    breaker.half_open()
    assert value(scrape(client), series) == 1
    breaker.close()
    assert value(scrape(client), series) == 0


def test_upstream_calls_are_timed_and_retries_counted(client: Client, closed_port: int) -> None:
    upstream = HttpClient("metrics-retry-upstream", f"http://127.0.0.1:{closed_port}", retries=2)
    upstream.backoff = 0

    with pytest.raises(UpstreamUnavailable):
        upstream.get("/anything")

    text = scrape(client)
    assert value(text, 'upstream_retries_total{upstream="metrics-retry-upstream"}') == 2
    timed = (
        'upstream_request_duration_seconds_count{outcome="error",upstream="metrics-retry-upstream"}'
    )
    assert value(text, timed) == 3


def test_sweep_drops_the_files_of_processes_that_are_gone(tmp_path: Path) -> None:
    # given a file of this process and one of a process that has exited
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(gone.stdout)
    (tmp_path / f"counter_{os.getpid()}.db").write_bytes(b"")
    (tmp_path / f"counter_{dead_pid}.db").write_bytes(b"")
    (tmp_path / f"gauge_livemax_{dead_pid}.db").write_bytes(b"")

    removed = metrics.sweep(str(tmp_path))

    assert sorted(removed) == sorted([f"counter_{dead_pid}.db", f"gauge_livemax_{dead_pid}.db"])
    assert [p.name for p in tmp_path.iterdir()] == [f"counter_{os.getpid()}.db"]


MULTIPROCESS_SCRIPT = """
import sys
import prometheus_client  # imported first, as the celery command's Flower plugin does
from servicekit import metrics
metrics.prepare_process(sys.argv[1])
from servicekit.metrics.defs import CELERY_TASKS
CELERY_TASKS.labels("demo.task", "success").inc()
print("counted", flush=True)
sys.stdin.read()  # stay alive until told
"""


def test_live_processes_sharing_a_directory_are_added_up(tmp_path: Path) -> None:
    # when two live processes count into one directory (prometheus_client imported before)
    env = {k: v for k, v in os.environ.items() if k != metrics.MULTIPROC_VARIABLE}
    command = [sys.executable, "-c", MULTIPROCESS_SCRIPT, str(tmp_path)]
    workers = [
        subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "counted"

        # then a reader of the directory (what /metrics does) sees both
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(tmp_path))
        text = generate_latest(registry).decode()
        assert value(text, 'celery_tasks_total{outcome="success",task="demo.task"}') == 2
    finally:
        for worker in workers:
            worker.communicate("", timeout=10)
