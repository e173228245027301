"""POST /auth/token (client credentials) and GET /internal/users/{id}."""

from __future__ import annotations

import base64

import pytest
from rest_framework.test import APIClient
from servicekit import tokens

from accounts.tests.fixtures import MakeUser, bearer

pytestmark = pytest.mark.django_db

NOTIFICATION = {"client_id": "notification-service", "client_secret": "s3cret-notification"}


@pytest.fixture(autouse=True)
def _clients(settings) -> None:
    settings.SERVICE_CLIENTS = {
        "notification-service": {"secret": "s3cret-notification", "scopes": ["users:read"]},
        "user-service": {"secret": "s3cret-user", "scopes": ["users:read", "todos:erase"]},
    }


def service_token(api: APIClient, **body: str) -> str:
    response = api.post("/auth/token", {"grant_type": "client_credentials", **body})
    assert response.status_code == 200, response.json()
    return str(response.json()["access_token"])


def test_a_configured_client_gets_a_short_lived_service_token(api: APIClient) -> None:
    response = api.post("/auth/token", {"grant_type": "client_credentials", **NOTIFICATION})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("Bearer", 300, "users:read")
    assert response["Cache-Control"] == "no-store"
    claims = tokens.verify(body["access_token"], expected_type=tokens.SERVICE)
    assert claims["client_id"] == "notification-service"
    assert claims["sub"] == "service:notification-service"
    assert claims["scope"] == "users:read"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"]


def test_form_encoding_and_basic_client_authentication_are_accepted(api: APIClient) -> None:
    basic = base64.b64encode(b"notification-service:s3cret-notification").decode()

    response = api.post(
        "/auth/token",
        "grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )

    assert response.status_code == 200, response.json()


@pytest.mark.parametrize(
    "credentials",
    [
        {"client_id": "notification-service", "client_secret": "wrong"},
        {"client_id": "notification-service", "client_secret": ""},
        {"client_id": "nobody", "client_secret": "s3cret-notification"},
        {},
    ],
)
def test_wrong_client_credentials_are_401(api: APIClient, credentials) -> None:
    response = api.post("/auth/token", {"grant_type": "client_credentials", **credentials})

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_client"
    assert "WWW-Authenticate" in response


def test_only_the_client_credentials_grant_is_supported(api: APIClient) -> None:
    response = api.post("/auth/token", {"grant_type": "password", **NOTIFICATION})

    assert response.status_code == 400
    assert response.json()["code"] == "unsupported_grant_type"


def test_a_client_gets_only_the_scopes_granted_to_it(api: APIClient) -> None:
    response = api.post(
        "/auth/token", {"grant_type": "client_credentials", "scope": "todos:erase", **NOTIFICATION}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_scope"


def test_internal_user_lookup_answers_service_tokens(api: APIClient, make_user: MakeUser) -> None:
    alice = make_user("alice")
    token = service_token(api, **NOTIFICATION)

    response = api.get(f"/internal/users/{alice.pk}", headers=bearer(token))

    assert response.status_code == 200
    assert response.json() == {
        "id": alice.pk,
        "username": "alice",
        "email": "alice@example.com",
        "is_active": True,
    }
    assert api.get(f"/internal/users/{alice.pk}/", headers=bearer(token)).status_code == 200
    assert api.get("/internal/users/999999", headers=bearer(token)).status_code == 404


def test_internal_user_lookup_refuses_user_tokens_with_403(
    api: APIClient, make_user: MakeUser, login
) -> None:
    alice = make_user("alice", is_staff=True)

    response = api.get(f"/internal/users/{alice.pk}", headers=bearer(login()["access"]))

    assert response.status_code == 403


def test_internal_user_lookup_refuses_anonymous_calls_with_401(
    api: APIClient, make_user: MakeUser
) -> None:
    response = api.get(f"/internal/users/{make_user('alice').pk}")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_internal_user_lookup_needs_the_users_read_scope(
    api: APIClient, make_user: MakeUser
) -> None:
    token = service_token(
        api, client_id="user-service", client_secret="s3cret-user", scope="todos:erase"
    )

    response = api.get(f"/internal/users/{make_user('alice').pk}", headers=bearer(token))

    assert response.status_code == 403


def test_service_tokens_are_refused_on_user_endpoints(api: APIClient) -> None:
    token = service_token(api, **NOTIFICATION)

    assert api.get("/users/me", headers=bearer(token)).status_code == 403
