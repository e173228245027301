"""Failing services: 503/504/502 naming them, retries, ejection and the breaker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.test import Client
from servicekit.testing import TokenFactory

from gateway.tests.conftest import FakeUpstream, Handler
from gateway.tests.helpers import bearer


@pytest.fixture
def token(token_factory: TokenFactory) -> str:
    return token_factory.access(7)


def point_todo_at(settings: Any, *urls: str) -> None:
    settings.UPSTREAMS = {**settings.UPSTREAMS, "todo-service": list(urls)}


def answer_with(status: int) -> Callable[[Handler], None]:
    return lambda handler: handler.reply(status, {"detail": f"answered {status}"})


def test_a_refused_connection_is_a_503_naming_the_service(
    client: Client, token: str, settings: Any, closed_port: int
) -> None:
    point_todo_at(settings, f"http://127.0.0.1:{closed_port}")

    response = client.get("/todos", headers=bearer(token))

    assert response.status_code == 503
    body = response.json()
    assert body["service"] == "todo-service"
    assert body["code"] == "upstream_unavailable"
    assert "refused" in body["detail"]


def test_a_slow_service_is_a_504_naming_it(
    client: Client, token: str, todo: FakeUpstream, settings: Any
) -> None:
    settings.GATEWAY_UPSTREAM_TIMEOUT = 0.2
    release = threading.Event()

    def slow(handler: Handler) -> None:
        release.wait(5)
        handler.reply(200, {})

    todo.behaviour = slow

    try:
        response = client.get("/todos", headers=bearer(token))
    finally:
        release.set()

    assert response.status_code == 504
    assert response.json() == {
        "detail": "todo-service did not answer within 0.2 s.",
        "code": "upstream_timeout",
        "service": "todo-service",
    }
    assert len(todo.received) == 1  # a timeout is not retried


def test_a_broken_response_is_a_502(client: Client, token: str, todo: FakeUpstream) -> None:
    def garbage(handler: Handler) -> None:
        handler.wfile.write(b"this is not HTTP\r\n\r\n")
        handler.close_connection = True

    todo.behaviour = garbage

    response = client.get("/todos", headers=bearer(token))

    assert response.status_code == 502
    assert response.json()["service"] == "todo-service"


def test_a_get_is_retried_on_another_instance(
    client: Client, token: str, make_upstream, settings: Any
) -> None:
    # given two instances, the first of which answers 503
    failing, healthy = make_upstream(), make_upstream()
    failing.behaviour = answer_with(503)
    point_todo_at(settings, failing.url, healthy.url)

    responses = [client.get("/todos", headers=bearer(token)) for _ in range(4)]

    assert [r.status_code for r in responses] == [200] * 4
    assert len(healthy.received) == 4
    assert len(failing.received) >= 1  # a 503 answer does not eject: it is tried again


def test_a_post_without_idempotency_key_is_never_sent_twice(
    client: Client, token: str, make_upstream, settings: Any
) -> None:
    first, second = make_upstream(), make_upstream()
    first.behaviour = second.behaviour = answer_with(503)
    point_todo_at(settings, first.url, second.url)

    response = client.post(
        "/todos", data={}, content_type="application/json", headers=bearer(token)
    )

    assert response.status_code == 503
    assert response.json() == {"detail": "answered 503"}  # the service's own answer, relayed
    assert len(first.received) + len(second.received) == 1


def test_a_post_with_an_idempotency_key_is_retried_at_most_twice(
    client: Client, token: str, todo: FakeUpstream
) -> None:
    todo.behaviour = answer_with(502)

    response = client.post(
        "/todos",
        data={},
        content_type="application/json",
        headers={**bearer(token), "Idempotency-Key": "k-1"},
    )

    assert response.status_code == 502
    assert len(todo.received) == 3
    assert {r.headers["idempotency-key"] for r in todo.received} == {"k-1"}


def test_a_patch_is_not_retried(client: Client, token: str, todo: FakeUpstream) -> None:
    todo.behaviour = answer_with(503)

    client.patch("/todos/1", data={}, content_type="application/json", headers=bearer(token))

    assert len(todo.received) == 1


def test_client_errors_and_500s_are_relayed_not_retried(
    client: Client, token: str, todo: FakeUpstream
) -> None:
    for status in (404, 500):
        todo.received.clear()
        todo.behaviour = answer_with(status)

        response = client.get("/todos/9", headers=bearer(token))

        assert response.status_code == status
        assert len(todo.received) == 1


def test_an_instance_that_refuses_is_ejected_then_brought_back(
    client: Client, token: str, make_upstream, settings: Any, closed_port: int
) -> None:
    # given a healthy instance and one on a port nobody listens on yet
    settings.GATEWAY_EJECT_SECONDS = 0.5
    healthy = make_upstream()
    point_todo_at(settings, f"http://127.0.0.1:{closed_port}", healthy.url)

    # then every GET succeeds (retried on the healthy one) ...
    statuses = [client.get("/todos", headers=bearer(token)).status_code for _ in range(6)]
    assert statuses == [200] * 6
    assert len(healthy.received) == 6

    # ... and once the cool-off is over the ejected address is tried again
    from gateway.upstreams import get_upstream

    [ejected] = [i for i in get_upstream("todo-service").instances if i.url != healthy.url]
    assert ejected.ejected_until > time.monotonic()
    time.sleep(0.6)
    assert ejected.available(time.monotonic())
    for _ in range(2):
        client.get("/todos", headers=bearer(token))
    assert ejected.ejected_until > time.monotonic()  # tried, refused, ejected again


def test_the_breaker_opens_after_fail_max_failures_and_closes_after_the_reset(
    client: Client, token: str, todo: FakeUpstream, settings: Any
) -> None:
    settings.GATEWAY_BREAKER_FAIL_MAX = 3
    settings.GATEWAY_BREAKER_RESET_SECONDS = 1
    todo.behaviour = answer_with(503)
    patch: dict[str, Any] = {
        "data": {},
        "content_type": "application/json",
        "headers": bearer(token),
    }

    # when three requests fail; the third, which trips it, still answers its own 503
    for _ in range(3):
        response = client.patch("/todos/1", **patch)
        assert response.json() == {"detail": "answered 503"}

    # then the next is refused at once, without calling the service
    refused = client.patch("/todos/1", **patch)
    assert refused.status_code == 503
    assert refused.json()["code"] == "circuit_open"
    assert refused.json()["service"] == "todo-service"
    assert refused["Retry-After"] == "1"
    assert len(todo.received) == 3

    # and after the reset one trial call decides: it succeeds, so it closes
    todo.behaviour = None
    time.sleep(1.1)
    assert client.patch("/todos/1", **patch).status_code == 200
    assert client.patch("/todos/1", **patch).status_code == 200


def test_a_503_with_retry_after_is_relayed_and_leaves_the_breaker_closed(
    client: Client, token: str, todo: FakeUpstream, settings: Any
) -> None:
    # given a service whose database is out of reach: it answers 503 with Retry-After
    settings.GATEWAY_BREAKER_FAIL_MAX = 3
    body = {"detail": "The database is unavailable.", "code": "database_unavailable"}
    todo.behaviour = lambda handler: handler.reply(503, body, {"Retry-After": "1"})

    # when more requests than the breaker's limit get that answer
    for _ in range(5):
        response = client.patch(
            "/todos/1", data={}, content_type="application/json", headers=bearer(token)
        )
        # then each client gets the service's own answer
        assert response.status_code == 503
        assert response.json() == body
        assert response["Retry-After"] == "1"

    # and the first request after the database is back goes through
    todo.behaviour = None
    assert (
        client.patch(
            "/todos/1", data={}, content_type="application/json", headers=bearer(token)
        ).status_code
        == 200
    )
    assert len(todo.received) == 6


def test_two_slow_calls_through_one_breaker_run_in_parallel(
    client: Client, token: str, todo: FakeUpstream
) -> None:
    # given a service that answers only when two requests are inside it at once
    barrier = threading.Barrier(2, timeout=2)

    def meet(handler: Handler) -> None:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            handler.reply(500, {"detail": "the calls were serialized"})
        else:
            handler.reply(200, {"detail": "met"})

    todo.behaviour = meet

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(Client().get, "/todos", headers=bearer(token)) for _ in range(2)]
        responses = [future.result(10) for future in futures]

    assert [r.json()["detail"] for r in responses] == ["met", "met"]
