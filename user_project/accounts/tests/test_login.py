"""POST /auth/login: tokens, wrong credentials, locked accounts, throttling."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from rest_framework.test import APIClient, APIRequestFactory
from servicekit import tokens

from accounts import services
from accounts.tests.fixtures import PASSWORD, MakeUser
from accounts.throttling import client_ip

pytestmark = pytest.mark.django_db


def login(api: APIClient, username: str = "alice", password: str = PASSWORD, **extra: Any) -> Any:
    return api.post("/auth/login", {"username": username, "password": password}, **extra)


@pytest.mark.parametrize("path", ["/auth/login", "/auth/login/"])
def test_login_returns_exactly_the_token_pair(api: APIClient, make_user: MakeUser, path) -> None:
    make_user("alice")

    response = api.post(path, {"username": "alice", "password": PASSWORD})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert response["Cache-Control"] == "no-store"


def test_the_access_token_is_rs256_with_a_kid_and_the_documented_claims(
    api: APIClient, make_user: MakeUser, signing_key_dir
) -> None:
    user = make_user("alice", is_staff=True)

    access = login(api).json()["access"]

    header = jwt.get_unverified_header(access)
    assert header["alg"] == "RS256"
    assert f"{header['kid']}.pem" in {p.name for p in signing_key_dir.iterdir()}
    claims = tokens.verify(access)  # the verifier every service uses
    assert claims["user_id"] == user.pk
    assert claims["sub"] == str(user.pk)
    assert claims["username"] == "alice"
    assert claims["is_staff"] is True
    assert claims["token_type"] == "access"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["jti"]


def test_the_username_is_case_insensitive(api: APIClient, make_user: MakeUser) -> None:
    make_user("Alice")

    assert login(api, "aLiCe").status_code == 200


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong-password-123"), ("nobody", PASSWORD)]
)
def test_wrong_credentials_are_401(api: APIClient, make_user: MakeUser, username, password) -> None:
    make_user("alice")

    response = login(api, username, password)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_locked_account_cannot_log_in(api: APIClient, make_user: MakeUser) -> None:
    services.user_lock(user=make_user("alice"))

    response = login(api)

    assert response.status_code == 401
    assert response.json() == {"detail": "This account is locked.", "code": "account_locked"}


def test_a_locked_account_with_a_wrong_password_reveals_nothing(
    api: APIClient, make_user: MakeUser
) -> None:
    services.user_lock(user=make_user("alice"))

    response = login(api, password="wrong-password-123")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_a_password_is_not_trimmed(api: APIClient, make_user: MakeUser) -> None:
    make_user("alice", password=f" {PASSWORD} ")

    assert login(api, password=PASSWORD).status_code == 401
    assert login(api, password=f" {PASSWORD} ").status_code == 200


def test_login_is_throttled_per_username_and_client_ip(
    api: APIClient, make_user: MakeUser, settings
) -> None:
    # given a limit of 3 attempts a minute
    settings.USER_LOGIN_RATE_LIMIT = (3, 60)
    make_user("alice")
    make_user("bob")
    for _ in range(3):
        assert login(api, password="wrong-password-123").status_code == 401

    # when a fourth attempt comes, even with the right password
    response = login(api)

    # then
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60
    # and another username from the same address is counted on its own
    assert login(api, "bob").status_code == 200


def test_clients_behind_a_trusted_proxy_are_counted_apart(
    api: APIClient, make_user: MakeUser, settings
) -> None:
    settings.USER_LOGIN_RATE_LIMIT = (1, 60)
    make_user("alice")

    first = login(api, HTTP_X_FORWARDED_FOR="203.0.113.7")
    same_client = login(api, HTTP_X_FORWARDED_FOR="203.0.113.7")
    other_client = login(api, HTTP_X_FORWARDED_FOR="198.51.100.9")

    assert (first.status_code, same_client.status_code, other_client.status_code) == (
        200,
        429,
        200,
    )


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("127.0.0.1", "", "127.0.0.1"),
        ("127.0.0.1", "203.0.113.7", "203.0.113.7"),
        # the client wrote the left part itself; the proxy appended the real address
        ("127.0.0.1", "6.6.6.6, 203.0.113.7", "203.0.113.7"),
        # not from a trusted proxy: the header is ignored
        ("198.51.100.1", "203.0.113.7", "198.51.100.1"),
    ],
)
def test_client_ip_believes_forwarded_for_only_from_trusted_proxies(
    remote: str, forwarded: str, expected: str
) -> None:
    request = APIRequestFactory().post(
        "/auth/login", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded
    )

    assert client_ip(request) == expected


def test_login_keeps_working_when_redis_is_down(
    api: APIClient, make_user: MakeUser, settings, closed_port_url: str
) -> None:
    make_user("alice")
    settings.SERVICEKIT = {**settings.SERVICEKIT, "REDIS_URL": closed_port_url}

    assert login(api).status_code == 200


def test_malformed_json_is_400(api: APIClient) -> None:
    response = api.generic("POST", "/auth/login", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
