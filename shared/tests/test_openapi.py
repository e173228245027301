"""servicekit.openapi.document_errors: each operation's schema lists the errors it can answer.

The statuses follow from the operation's shape (a token, a body, parameters);
the bodies documented for them are checked against what servicekit's
exception handler really renders.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.settings import patched_settings
from jsonschema import Draft202012Validator
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from servicekit import defaults, openapi
from servicekit.authentication import BearerTokenAuthentication, IsEndUser
from servicekit.urls import optional_slash

BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
ANONYMOUS: list[dict[str, list[str]]] = [{}]
JSON_ERROR = {"application/json": {"schema": openapi.ERROR}}


def param(location: str, name: str) -> dict[str, Any]:
    return {"in": location, "name": name, "schema": {"type": "string"}}


def responses_of(**operation: Any) -> dict[str, Any]:
    """The responses the hook documents for one GET operation built from ``operation``."""
    operation.setdefault("responses", {"200": {"description": ""}})
    schema = {"openapi": "3.0.3", "paths": {"/things": {"get": operation}}}
    result = openapi.document_errors(result=schema, generator=None, request=None, public=True)
    responses: dict[str, Any] = result["paths"]["/things"]["get"]["responses"]
    return responses


def test_reading_one_object_with_a_token_can_be_refused_or_not_found() -> None:
    responses = responses_of(security=BEARER, parameters=[param("path", "id")])

    assert list(responses) == ["200", "401", "403", "404", "414"]
    for status in ("401", "403", "404"):
        assert responses[status]["content"] == JSON_ERROR, status
    assert "text/html" in responses["414"]["content"]


def test_a_public_write_can_be_invalid_or_too_large_but_never_unauthenticated() -> None:
    responses = responses_of(security=ANONYMOUS, requestBody={"content": {}})

    assert list(responses) == ["200", "400", "413"]
    assert responses["400"]["content"] == {"application/json": {"schema": openapi.BAD_REQUEST}}


def test_an_optional_token_is_not_a_401() -> None:
    responses = responses_of(security=[*BEARER, {}])

    assert list(responses) == ["200"]


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        pytest.param(["page", "page_size"], ["200", "404", "414"], id="pages-only"),
        pytest.param(["page", "search"], ["200", "400", "404", "414"], id="with-a-filter"),
    ],
)
def test_a_page_out_of_range_is_a_404_and_only_filters_are_a_400(
    parameters: list[str], expected: list[str]
) -> None:
    responses = responses_of(parameters=[param("query", name) for name in parameters])

    assert list(responses) == expected
    assert responses["404"]["description"] == "No such page."


def test_a_header_parameter_is_validated_and_can_be_too_large_for_the_server() -> None:
    responses = responses_of(parameters=[param("header", "Idempotency-Key")])

    assert list(responses) == ["200", "400", "431"]
    assert "text/html" in responses["431"]["content"]


def test_a_views_own_errors_are_kept_and_get_the_error_body() -> None:
    # given a view that documents its own 401 wording and a 409, without bodies
    own = {
        "200": {"description": ""},
        "401": {"description": "The password is not right."},
        "409": {"description": "The account is being deleted."},
    }

    # when the hook runs
    responses = responses_of(security=BEARER, responses=own)

    # then both keep their wording and get the error body; the generic 403 is added
    assert list(responses) == ["200", "401", "403", "409"]
    assert responses["401"] == {"description": "The password is not right.", "content": JSON_ERROR}
    assert responses["409"]["content"] == JSON_ERROR


@pytest.mark.parametrize(
    ("url", "status"),
    [
        pytest.param("/errors/field", 400, id="field-validation"),
        pytest.param("/errors/plain", 400, id="plain-validation"),
        pytest.param("/me", 401, id="no-token"),
        pytest.param("/errors/forbidden", 403, id="forbidden"),
        pytest.param("/errors/not-found", 404, id="not-found"),
        pytest.param("/no/such/route", 404, id="no-route"),
        pytest.param("/errors/conflict", 409, id="conflict"),
        pytest.param("/errors/quota", 429, id="service-error"),
    ],
)
def test_the_documented_error_bodies_match_what_the_services_answer(
    client: Client, url: str, status: int
) -> None:
    # given the schema the hook documents for a status
    documented = responses_of(responses={str(status): {"description": ""}})
    schema = documented[str(status)]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": {"schemas": openapi.ERROR_SCHEMAS}})

    # when a view (or Django) answers with that status
    response = client.get(url)

    # then the body is one the schema allows
    assert response.status_code == status
    errors = [error.message for error in validator.iter_errors(response.json())]
    assert not errors, f"{url} answered {response.json()}, outside its schema: {errors}"


class NoteSerializer(serializers.Serializer[dict[str, Any]]):
    text = serializers.CharField()


class MyNoteApi(generics.GenericAPIView[Any]):
    """One of the signed-in user's notes: a token, a path parameter."""

    schema = AutoSchema()  # what a service's DEFAULT_SCHEMA_CLASS gives every view
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsEndUser]
    serializer_class = NoteSerializer

    def get(self, request: Request, note_id: int) -> Response:
        raise NotImplementedError  # only described, never called


class FeedbackApi(generics.GenericAPIView[Any]):
    """Anybody may write: a body, no token."""

    schema = AutoSchema()
    authentication_classes = []
    permission_classes = [AllowAny]
    serializer_class = NoteSerializer

    def post(self, request: Request) -> Response:
        raise NotImplementedError


# Only read by SchemaGenerator below (the test client's URLconf is tests/urls.py).
SCHEMA_PATTERNS = [
    *optional_slash("notes/<int:note_id>", MyNoteApi.as_view()),
    *optional_slash("feedback", FeedbackApi.as_view()),
]


def test_the_default_settings_give_a_services_schema_its_errors() -> None:
    # given servicekit's drf-spectacular settings (SERVE_* only matter to the schema view)
    settings = {
        key: value
        for key, value in defaults.SPECTACULAR_SETTINGS.items()
        if not key.startswith("SERVE_")
    }

    # when drf-spectacular generates the schema of a token-only view and a public one
    with patched_settings(settings):
        schema = SchemaGenerator(patterns=SCHEMA_PATTERNS).get_schema(request=None, public=True)

    # then each path is listed once (no trailing-slash twin), with its errors
    paths = schema["paths"]
    assert set(paths) == {"/notes/{note_id}", "/feedback"}
    assert list(paths["/notes/{note_id}"]["get"]["responses"]) == [
        "200",
        "401",
        "403",
        "404",
        "414",
    ]
    assert list(paths["/feedback"]["post"]["responses"]) == ["200", "400", "413"]
    assert {"Error", "ValidationError"} <= set(schema["components"]["schemas"])
