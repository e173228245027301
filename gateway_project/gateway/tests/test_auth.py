"""Token checks at the door: 401 with a Bearer challenge, and no upstream call."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from django.test import Client
from servicekit import tokens
from servicekit.testing import TokenFactory, rsa_key

from gateway.tests.conftest import FakeUpstream
from gateway.tests.helpers import bearer


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def forgeries(factory: TokenFactory) -> dict[str, str]:
    claims = factory.claims(token_type="access", user_id=7, username="ann")
    header, payload, signature = factory.sign(claims).split(".")
    return {
        "alg none": f"{b64({'alg': 'none', 'kid': factory.kid})}.{payload}.",
        "HS256": jwt.encode(
            claims,
            "a-shared-secret-of-32-bytes-long!",
            algorithm="HS256",
            headers={"kid": factory.kid},
        ),
        "wrong key": factory.sign(claims, key=rsa_key("attacker")),
        "unknown kid": factory.sign(claims, key=rsa_key("attacker"), kid="attacker"),
        "expired": factory.sign({**claims, "exp": int(time.time()) - 60}),
        "tampered": f"{header}.{b64({**claims, 'user_id': 1})}.{signature}",
        "refresh token": factory.sign({**claims, "token_type": "refresh"}),
        "not a JWT": "nonsense",
    }


@pytest.mark.parametrize("forgery", list(forgeries(TokenFactory())))
def test_forged_tokens_get_401_and_never_reach_the_service(
    client: Client, token_factory: TokenFactory, todo: FakeUpstream, forgery: str
) -> None:
    response = client.get("/todos", headers=bearer(forgeries(token_factory)[forgery]))

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')
    assert response.json()["code"] == "token_not_valid"
    assert todo.received == []


@pytest.mark.parametrize("header", [None, "Basic dXNlcjpwYXNz", "Bearer", "Bearer a b"])
def test_missing_or_malformed_credentials_get_401(
    client: Client, token_factory: TokenFactory, todo: FakeUpstream, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}

    response = client.get("/todos", headers=headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["code"] == "not_authenticated"
    assert todo.received == []


def test_a_revoked_token_gets_401_without_calling_the_service(
    client: Client, token_factory: TokenFactory, todo: FakeUpstream
) -> None:
    token = token_factory.access(5)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert client.get("/todos", headers=bearer(token)).status_code == 200

    tokens.revoke(claims["jti"], expires_at=claims["exp"])
    response = client.get("/todos", headers=bearer(token))

    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert len(todo.received) == 1


def test_a_valid_token_reaches_the_service_with_the_user_id(
    client: Client, token_factory: TokenFactory, todo: FakeUpstream
) -> None:
    response = client.get("/todos?page=2", headers=bearer(token_factory.access(42)))

    assert response.status_code == 200
    assert response.json() == {"path": "/todos?page=2", "method": "GET"}
    assert todo.received[0].headers["x-user-id"] == "42"
    assert todo.received[0].headers["authorization"].startswith("Bearer ")


@pytest.mark.parametrize("path", ["/auth/login", "/auth/register/", "/.well-known/jwks.json"])
def test_public_routes_need_no_token(
    client: Client, token_factory: TokenFactory, user: FakeUpstream, path: str
) -> None:
    response = client.post(path, data={"username": "ann"}, content_type="application/json")

    assert response.status_code == 200
    assert user.received[0].path == path


def test_unknown_paths_are_404_before_authentication(client: Client, todo: FakeUpstream) -> None:
    for path in ["/nope", "/internal/users/1/erase", "/todos/../internal/users/1"]:
        response = client.get(path)

        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"
    assert todo.received == []
