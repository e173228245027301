"""Request ids, the access log and the body-size limit, seen from outside."""

from __future__ import annotations

import base64
import json
import logging
import re
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client
from pytest_django import Settings

from conftest import LogLines

if TYPE_CHECKING:
    from django.contrib.auth.models import User

FRESH_ID = re.compile(r"^[0-9a-f]{32}$")


def json_body_of_size(size: int) -> str:
    body = '{"k":"' + "x" * (size - 8) + '"}'
    assert len(body.encode()) == size
    return body


# -- request ids --------------------------------------------------------------


@pytest.mark.parametrize(
    "incoming", ["abc-123", "trace:4bf92f3577b34da6/00f067aa0ba902b7", "a" * 128, "~!@#$%^&*"]
)
def test_a_sane_incoming_request_id_is_echoed(client: Client, incoming: str) -> None:
    response = client.get("/health", headers={"X-Request-ID": incoming})

    assert response["X-Request-ID"] == incoming


@pytest.mark.parametrize(
    "incoming",
    [
        pytest.param("a" * 129, id="129-chars"),
        pytest.param("has space", id="space"),
        pytest.param("caf\u00e9", id="non-ascii"),
        pytest.param("ab\x01cd", id="control-char"),
        pytest.param("tab\there", id="tab"),
        pytest.param("", id="empty"),
    ],
)
def test_an_unusable_request_id_is_replaced_by_a_fresh_one(client: Client, incoming: str) -> None:
    response = client.get("/health", headers={"X-Request-ID": incoming})

    assert FRESH_ID.match(response["X-Request-ID"])


def test_each_request_without_an_id_gets_its_own(client: Client) -> None:
    first = client.get("/health")["X-Request-ID"]
    second = client.get("/health")["X-Request-ID"]

    assert FRESH_ID.match(first)
    assert FRESH_ID.match(second)
    assert first != second


def test_the_maximum_request_id_length_is_a_setting(client: Client, settings: Settings) -> None:
    settings.SERVICEKIT = {**settings.SERVICEKIT, "REQUEST_ID_MAX_LENGTH": 8}

    assert client.get("/health", headers={"X-Request-ID": "12345678"})["X-Request-ID"] == "12345678"
    assert FRESH_ID.match(
        client.get("/health", headers={"X-Request-ID": "123456789"})["X-Request-ID"]
    )


def test_every_log_line_of_a_request_carries_its_id(client: Client, json_logs: LogLines) -> None:
    # when
    response = client.post(
        "/echo",
        {"title": "milk"},
        content_type="application/json",
        headers={"X-Request-ID": "r-42"},
    )

    # then
    assert response.status_code == 200
    lines = json_logs()
    assert [line["message"] for line in lines] == ["echo called", "request"]
    assert {line["request_id"] for line in lines} == {"r-42"}
    assert {line["service"] for line in lines} == {"test-service"}


def test_log_lines_outside_a_request_have_no_request_id(
    client: Client, json_logs: LogLines
) -> None:
    # given a request has come and gone
    client.get("/health", headers={"X-Request-ID": "r-43"})

    # when
    logging.getLogger("servicekit_tests.background").warning("tick")

    # then
    assert json_logs()[-1]["message"] == "tick"
    assert json_logs()[-1]["request_id"] is None


# -- access log ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("get", "/health", 200), ("post", "/health", 405), ("get", "/no/such/path", 404)],
)
def test_one_access_log_line_per_request(
    client: Client, json_logs: LogLines, method: str, path: str, status: int
) -> None:
    response = getattr(client, method)(path, headers={"X-Request-ID": "r-44"})

    access = [line for line in json_logs() if line["logger"] == "servicekit.access"]
    assert len(access) == 1
    line = access[0]
    assert line["level"] == "INFO"
    assert (line["method"], line["path"], line["status"]) == (method.upper(), path, status)
    assert response.status_code == status
    assert isinstance(line["duration_ms"], float | int)
    assert line["duration_ms"] >= 0
    assert line["user_id"] is None
    assert line["request_id"] == "r-44"


def test_a_not_found_is_logged_once_by_the_access_log_only(
    client: Client, json_logs: LogLines
) -> None:
    client.get("/no/such/path")

    assert [line["logger"] for line in json_logs()] == ["servicekit.access"]


@pytest.mark.django_db
def test_a_503_is_logged_once_by_the_access_log_only(
    client: Client, json_logs: LogLines, settings: Settings, closed_port: int
) -> None:
    # given Redis is down, so readiness answers 503 without an exception
    settings.SERVICEKIT = {**settings.SERVICEKIT, "REDIS_URL": f"redis://127.0.0.1:{closed_port}"}

    # when
    response = client.get("/health/ready", headers={"X-Request-ID": "r-45"})

    # then no id-less "Service Unavailable" line from django.request
    assert response.status_code == 503
    assert [(line["logger"], line["status"], line["request_id"]) for line in json_logs()] == [
        ("servicekit.access", 503, "r-45")
    ]


@pytest.mark.django_db
def test_the_access_log_names_an_authenticated_user(
    client: Client, json_logs: LogLines, django_user_model: type[User]
) -> None:
    # given
    user = django_user_model.objects.create_user(username="ada", password="pw-ada-123")
    credentials = base64.b64encode(b"ada:pw-ada-123").decode()

    # when
    response = client.get("/whoami", headers={"Authorization": f"Basic {credentials}"})

    # then
    assert response.json() == {"user_id": user.pk}
    access = [line for line in json_logs() if line["logger"] == "servicekit.access"]
    assert access[0]["user_id"] == user.pk


# -- body size limit ----------------------------------------------------------


@pytest.fixture
def small_body_limit(settings: Settings) -> int:
    settings.SERVICEKIT = {**settings.SERVICEKIT, "MAX_BODY_BYTES": 64}
    return 64


def test_a_body_over_the_limit_is_refused_before_the_view_runs(
    client: Client, json_logs: LogLines, small_body_limit: int
) -> None:
    # when
    response = client.post(
        "/echo", json_body_of_size(small_body_limit + 1), content_type="application/json"
    )

    # then
    assert response.status_code == 413
    assert response.json() == {
        "detail": "Request body is 65 bytes; the limit is 64 bytes.",
        "code": "request_too_large",
    }
    assert FRESH_ID.match(response["X-Request-ID"])
    assert [(line["message"], line.get("status")) for line in json_logs()] == [("request", 413)]


def test_a_body_at_the_limit_reaches_the_view(client: Client, small_body_limit: int) -> None:
    body = json_body_of_size(small_body_limit)

    response = client.post("/echo", body, content_type="application/json")

    assert response.status_code == 200
    assert response.json() == {"received": json.loads(body)}


def test_a_non_numeric_content_length_is_a_bad_request(client: Client) -> None:
    response = client.generic(
        "POST", "/echo", b"{}", content_type="application/json", CONTENT_LENGTH="ten"
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Content-Length is not a number.",
        "code": "bad_content_length",
    }


class StalledBody:
    """A request body whose sender stopped: the server's deadline fails the read."""

    def read(self, *args: object) -> bytes:
        raise TimeoutError("request body not received in time")

    readline = read


def test_a_body_that_stops_arriving_is_answered_408_and_logged_once(
    client: Client, json_logs: LogLines
) -> None:
    # when the view reads a body that stalled
    stalled: dict[str, Any] = {"wsgi.input": StalledBody()}
    response = client.generic(
        "POST", "/echo", b'{"k": 1}', content_type="application/json", **stalled
    )

    # then
    assert response.status_code == 408
    assert response.json() == {
        "detail": "The request body stopped arriving before it was complete.",
        "code": "request_timeout",
    }
    lines = json_logs()
    assert [line["status"] for line in lines if line["message"] == "request"] == [408]
    assert [line for line in lines if line["level"] == "ERROR"] == []


def test_a_database_that_cannot_be_reached_is_a_503_the_caller_may_retry(
    client: Client, closed_port: int, json_logs: LogLines, django_db_blocker: Any
) -> None:
    # given a view whose database does not answer (nothing listens on its port)
    from test_health import extra_database

    unreachable = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": str(closed_port),
        "NAME": "gone",
        "USER": "postgres",
        "OPTIONS": {"connect_timeout": 2},
    }
    with django_db_blocker.unblock(), extra_database("gone", unreachable):
        # when it is asked
        response = client.get("/db/gone")

    # then the caller is told to come back, not that the service is broken
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json() == {
        "detail": "The service cannot reach its database; try again in a moment.",
        "code": "database_unavailable",
    }
    lines = json_logs()
    assert [line["message"] for line in lines if line["level"] == "WARNING"] == [
        "database_unavailable"
    ]
    assert [line for line in lines if line["level"] == "ERROR"] == []
