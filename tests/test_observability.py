"""Observability end to end: one trace from the gateway to the email, and /metrics moving.

The suite runs with ``OTEL_EXPORTER_OTLP_ENDPOINT`` pointing at an OTLP/HTTP
receiver in this test (a small HTTP server decoding the protobuf
``ExportTraceServiceRequest`` every process sends), so the spans checked here
are exactly what a collector would get.
"""

from __future__ import annotations

import gzip
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar

import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from servicekit.testing import free_port

from gateway_support import bearer, register_and_login
from support import PostgresServer, Suite

pytestmark = pytest.mark.e2e

T = TypeVar("T")


def poll(produce: Callable[[], T | None], *, timeout: float) -> T | None:
    """``produce()``'s first value that is not None (or falsy), polling; None after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = produce()
        if value:
            return value
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str


class OtlpReceiver:
    """An OTLP/HTTP traces endpoint (``POST /v1/traces``, protobuf) keeping every span."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver.add(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, request: ExportTraceServiceRequest) -> None:
        with self.lock:
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                service = resource.get("service.name", "")
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(
                            ReceivedSpan(
                                service=service,
                                name=span.name,
                                trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(),
                                parent_id=span.parent_span_id.hex(),
                            )
                        )

    def services_by_trace(self) -> dict[str, set[str]]:
        with self.lock:
            found: dict[str, set[str]] = defaultdict(set)
            for span in self.spans:
                found[span.trace_id].add(span.service)
            return found

    def __enter__(self) -> OtlpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def suite(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer, receiver: OtlpReceiver
) -> Iterator[Suite]:
    suite = Suite(
        var_dir=tmp_path_factory.mktemp("observability"),
        env={
            **postgres.suite_databases("observability"),
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
            # Export every 200 ms rather than every 5 s, so the test need not wait.
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            # A limit the metrics test reaches, to see the gateway count a 429.
            "GATEWAY_LOGIN_RATE_LIMIT": "6/min",
        },
    )
    suite.up()
    yield suite
    suite.down()


def complete_a_todo(suite: Suite) -> tuple[dict, str]:
    """A new user completes a todo through the gateway; the login and the response's trace id."""
    tokens = register_and_login(suite)
    gateway = suite.url("api-gateway", "")
    headers = bearer(tokens["access"])
    created = requests.post(
        f"{gateway}/todos", json={"title": "trace me"}, headers=headers, timeout=10
    )
    assert created.status_code == 201, created.text
    completed = requests.post(
        f"{gateway}/todos/{created.json()['id']}/complete", headers=headers, timeout=10
    )
    assert completed.status_code == 200, completed.text
    return tokens, completed.headers.get("X-Request-ID", "")


def test_one_trace_runs_from_the_gateway_through_the_relay_to_the_notification_worker(
    suite: Suite, receiver: OtlpReceiver
) -> None:
    # when a todo is completed through the gateway (and its email goes out)
    complete_a_todo(suite)
    wanted = {"api-gateway", "todo-service", "todo-relay", "notification-worker"}
    relay_span, worker_span = "outbox publish todo.completed", "handle todo.completed"

    def one_trace_with_all() -> str | None:
        # (creating the todo made a trace of its own: todo.created); the worker's
        # span ends, and is exported, after the spans inside it
        with receiver.lock:
            published = {s.trace_id for s in receiver.spans if s.name == relay_span}
            handled = {s.trace_id for s in receiver.spans if s.name == worker_span}
        for trace_id, services in receiver.services_by_trace().items():
            if trace_id in published & handled and wanted <= services and complete(trace_id):
                return trace_id
        return None

    def complete(trace_id: str) -> bool:
        # every process exports in its own batches: wait until each span's parent is in
        with receiver.lock:
            spans = [s for s in receiver.spans if s.trace_id == trace_id]
        ids = {s.span_id for s in spans}
        return len([s for s in spans if s.parent_id not in ids]) == 1

    # then one trace id has spans from all four processes
    trace_id = poll(one_trace_with_all, timeout=30)
    assert trace_id, f"no trace spans {sorted(wanted)}; traces seen: {receiver.services_by_trace()}"
    spans = [s for s in receiver.spans if s.trace_id == trace_id]
    names = {(s.service, s.name) for s in spans}
    assert ("todo-relay", relay_span) in names, names
    assert ("notification-worker", worker_span) in names, names
    # ... and each span but the gateway's first one has its parent in the trace
    ids = {s.span_id for s in spans}
    roots = [s for s in spans if s.parent_id not in ids]
    assert [(s.service, s.parent_id) for s in roots] == [("api-gateway", "")], roots

    # and the worker's log lines carry the trace id
    def worker_logged_the_trace() -> bool:
        lines = suite.log_lines("notification-worker")
        return any(line.get("trace_id") == trace_id for line in lines)

    assert poll(worker_logged_the_trace, timeout=10), "no worker log line with the trace id"


SERIES = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def scrape(url: str) -> dict[str, float]:
    """``{'name{labels}': value}`` of a Prometheus text page."""
    response = requests.get(url, timeout=5)
    assert response.status_code == 200, f"{url}: {response.status_code} {response.text[:200]}"
    assert response.headers["Content-Type"].startswith("text/plain"), url
    samples = {}
    for line in response.text.splitlines():
        match = SERIES.match(line)
        if match:
            samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


def total(samples: dict[str, float], name: str, **labels: str) -> float:
    """The sum of ``name``'s series whose labels include ``labels``."""
    found = 0.0
    for series, value in samples.items():
        if series.split("{")[0] != name:
            continue
        if all(f'{key}="{wanted}"' in series for key, wanted in labels.items()):
            found += value
    return found


def test_every_service_serves_metrics_that_move_with_traffic(suite: Suite) -> None:
    # given what every /metrics says before
    urls = {service: suite.url(service, "/metrics") for service in suite.ports}
    before = {service: scrape(url) for service, url in urls.items()}

    # when a todo is completed through the gateway and its email is handled
    complete_a_todo(suite)

    completed = "todo.completed"

    def after_email() -> dict[str, dict[str, float]] | None:
        now = {service: scrape(url) for service, url in urls.items()}
        handled = total(
            now["notification-service"],
            "celery_tasks_total",
            task="notification.handle_event",
            outcome="success",
        )
        was = total(
            before["notification-service"],
            "celery_tasks_total",
            task="notification.handle_event",
            outcome="success",
        )
        # (the relay counts an event once the broker took it: the worker may be quicker)
        published = total(now["todo-service"], "outbox_published_total", event_type=completed)
        before_published = total(
            before["todo-service"], "outbox_published_total", event_type=completed
        )
        return now if handled > was and published > before_published else None

    after = poll(after_email, timeout=30)
    assert after, "the handled event or its publication never showed in /metrics"

    def grew(service: str, name: str, **labels: str) -> bool:
        return total(after[service], name, **labels) > total(before[service], name, **labels)

    # then the gateway counted the request by route prefix, timed the upstream ...
    assert grew("api-gateway", "http_requests_total", route="/todos", status="200")
    assert grew("api-gateway", "http_request_duration_seconds_count", route="/todos")
    assert grew("api-gateway", "upstream_request_duration_seconds_count", upstream="todo-service")
    assert 'circuit_breaker_state{breaker="todo-service"}' in after["api-gateway"]
    assert after["api-gateway"]['circuit_breaker_state{breaker="todo-service"}'] == 0
    # ... todo-service counted it by URL pattern, its relay published the event ...
    assert grew(
        "todo-service", "http_requests_total", route="/todos/<int:todo_id>/complete", status="200"
    )
    assert "outbox_pending_events" in after["todo-service"]
    assert "outbox_lag_seconds" in after["todo-service"]
    # ... user-service counted the sign-up and login, notification-service timed the task
    assert grew("user-service", "http_requests_total", route="/auth/register", status="201")
    assert grew(
        "notification-service",
        "celery_task_duration_seconds_count",
        task="notification.handle_event",
    )

    # when logins go past the gateway's limit, it counts the 429s
    login = suite.url("api-gateway", "/auth/login")
    statuses = [
        requests.post(login, json={"username": "nobody", "password": "x"}, timeout=5).status_code
        for _ in range(8)
    ]
    assert 429 in statuses, statuses
    assert total(
        scrape(urls["api-gateway"]), "gateway_rate_limit_rejections_total", policy="login"
    ) >= statuses.count(429)
