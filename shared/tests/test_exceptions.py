"""One error shape, {"detail", "code"}, from DRF views and from Django itself."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from conftest import LogLines


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        pytest.param(
            "/errors/field", 400, {"title": ["This field is required."]}, id="field-validation"
        ),
        pytest.param(
            "/errors/plain",
            400,
            {"detail": "plain message", "code": "invalid"},
            id="plain-validation",
        ),
        pytest.param(
            "/errors/list",
            400,
            {"detail": "First problem. Second problem.", "code": "invalid"},
            id="list-validation",
        ),
        pytest.param(
            "/errors/quota",
            429,
            {"detail": "Too many todos.", "code": "quota_exceeded"},
            id="service-error-subclass",
        ),
        pytest.param(
            "/errors/conflict",
            409,
            {"detail": "The request conflicts with the current state.", "code": "conflict"},
            id="conflict",
        ),
        pytest.param(
            "/errors/custom",
            400,
            {"detail": "Title is taken.", "code": "title_taken"},
            id="service-error-with-code",
        ),
        pytest.param(
            "/errors/not-found", 404, {"detail": "Not found.", "code": "not_found"}, id="drf-404"
        ),
        pytest.param(
            "/errors/http404",
            404,
            {"detail": "No Todo matches the given query.", "code": "not_found"},
            id="django-http404-in-drf-view",
        ),
        pytest.param(
            "/no/such/path",
            404,
            {"detail": "No route for /no/such/path.", "code": "not_found"},
            id="unknown-path",
        ),
        pytest.param(
            "/errors/forbidden",
            403,
            {
                "detail": "You do not have permission to perform this action.",
                "code": "permission_denied",
            },
            id="django-permission-denied",
        ),
        pytest.param(
            "/errors/suspicious",
            400,
            {"detail": "Bad request.", "code": "bad_request"},
            id="django-suspicious-operation",
        ),
    ],
)
def test_errors_have_the_common_json_shape(
    client: Client, path: str, status: int, body: dict[str, Any]
) -> None:
    response = client.get(path)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json() == body


def test_an_unhandled_exception_is_a_json_500_quoting_the_request_id(
    client: Client, json_logs: LogLines
) -> None:
    # given
    client.raise_request_exception = False

    # when
    response = client.get("/errors/crash", headers={"X-Request-ID": "r-500"})

    # then the caller gets an id to quote
    assert response.status_code == 500
    assert response["X-Request-ID"] == "r-500"
    assert response.json() == {
        "detail": "Internal server error. Quote request id r-500 when reporting it.",
        "code": "server_error",
    }
    # and the logged traceback carries the same id
    errors = [line for line in json_logs() if line["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["logger"] == "django.request"
    assert errors[0]["request_id"] == "r-500"
    assert errors[0]["exc_info"].endswith("RuntimeError: boom")


def test_a_500_without_an_incoming_id_quotes_the_generated_one(client: Client) -> None:
    client.raise_request_exception = False

    response = client.get("/errors/crash")

    request_id = response["X-Request-ID"]
    assert request_id in response.json()["detail"]


def test_a_json_post_reaches_the_view(client: Client) -> None:
    response = client.post(
        "/echo", {"title": "milk", "done": False}, content_type="application/json"
    )

    assert response.status_code == 200
    assert response.json() == {"received": {"title": "milk", "done": False}}


def test_malformed_json_is_a_parse_error(client: Client) -> None:
    response = client.post("/echo", '{"title": ', content_type="application/json")

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == "parse_error"
    assert body["detail"].startswith("JSON parse error")


def test_an_unsupported_media_type_has_a_code(client: Client) -> None:
    response = client.post("/echo", "title=milk", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
