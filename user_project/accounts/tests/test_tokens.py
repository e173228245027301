"""Refresh, logout, revocation, forged tokens and key rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from django.core.management import call_command
from rest_framework.test import APIClient
from servicekit import tokens
from servicekit.testing import rsa_key

from accounts import keys, services
from accounts.tests.fixtures import MakeUser, bearer

pytestmark = pytest.mark.django_db

Login = Callable[..., dict[str, Any]]


def me(api: APIClient, access: str) -> Any:
    return api.get("/users/me", headers=bearer(access))


# --- refresh ------------------------------------------------------------------------


def test_refresh_gives_new_tokens_and_uses_the_old_refresh_token_up(
    api: APIClient, make_user: MakeUser, login: Login
) -> None:
    make_user("alice")
    pair = login()

    response = api.post("/auth/refresh", {"refresh": pair["refresh"]})

    assert response.status_code == 200
    body = response.json()
    assert {"access", "refresh", "token_type", "expires_in"} <= set(body)
    assert me(api, body["access"]).status_code == 200
    # rotation: the used refresh token is blacklisted, the new one works
    again = api.post("/auth/refresh/", {"refresh": pair["refresh"]})
    assert again.status_code == 401
    assert again.json()["code"] == "token_not_valid"
    assert api.post("/auth/refresh", {"refresh": body["refresh"]}).status_code == 200


def test_refresh_builds_the_access_token_from_the_account_as_it_is_now(
    api: APIClient, make_user: MakeUser, login: Login
) -> None:
    user = make_user("alice")
    pair = login()
    user.is_staff = True
    user.save()

    access = api.post("/auth/refresh", {"refresh": pair["refresh"]}).json()["access"]

    assert tokens.verify(access)["is_staff"] is True


@pytest.mark.parametrize("which", ["an access token", "garbage", "nothing"])
def test_refresh_refuses_what_is_not_a_refresh_token(
    api: APIClient, make_user: MakeUser, login: Login, which: str
) -> None:
    make_user("alice")
    value = {"an access token": login()["access"], "garbage": "x.y.z", "nothing": ""}[which]

    response = api.post("/auth/refresh", {"refresh": value})

    assert response.status_code == (400 if which == "nothing" else 401)


def test_refresh_of_a_locked_account_is_refused(
    api: APIClient, make_user: MakeUser, login: Login
) -> None:
    user = make_user("alice")
    pair = login()
    services.user_lock(user=user)

    assert api.post("/auth/refresh", {"refresh": pair["refresh"]}).status_code == 401


# --- logout and revocation ----------------------------------------------------------


def test_logout_revokes_both_tokens(api: APIClient, make_user: MakeUser, login: Login) -> None:
    make_user("alice")
    pair = login()
    assert me(api, pair["access"]).status_code == 200

    response = api.post(
        "/auth/logout", {"refresh": pair["refresh"]}, headers=bearer(pair["access"])
    )

    assert response.status_code == 204
    refused = me(api, pair["access"])
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    assert refused["WWW-Authenticate"].startswith("Bearer")
    with pytest.raises(tokens.InvalidToken, match="revoked"):
        tokens.verify(pair["access"])  # what the gateway and other services see
    assert api.post("/auth/refresh", {"refresh": pair["refresh"]}).status_code == 401


def test_logout_without_a_bearer_token_is_401(
    api: APIClient, make_user: MakeUser, login: Login
) -> None:
    make_user("alice")

    response = api.post("/auth/logout", {"refresh": login()["refresh"]})

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_logout_with_someone_elses_refresh_token_is_401(
    api: APIClient, make_user: MakeUser, login: Login
) -> None:
    make_user("alice")
    make_user("bob")
    alice, bob = login("alice"), login("bob")

    response = api.post(
        "/auth/logout", {"refresh": bob["refresh"]}, headers=bearer(alice["access"])
    )

    assert response.status_code == 401
    assert api.post("/auth/refresh", {"refresh": bob["refresh"]}).status_code == 200


def test_locking_an_account_revokes_its_live_access_tokens_everywhere(
    api: APIClient, make_user: MakeUser, login: Login
) -> None:
    user = make_user("alice")
    first, second = login()["access"], login()["access"]

    services.user_lock(user=user)

    for access in (first, second):
        with pytest.raises(tokens.InvalidToken, match="revoked"):
            tokens.verify(access)
        assert me(api, access).status_code == 401


# --- forged tokens --------------------------------------------------------------------


def _b64(data: bytes | dict[str, Any]) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forgeries(valid: str) -> dict[str, str]:
    """Every attack of docs/spec/targets.md, "Security", built from a real token of ours."""
    header, payload, signature = valid.split(".")
    claims = jwt.decode(valid, options={"verify_signature": False})
    kid = jwt.get_unverified_header(valid)["kid"]
    public_pem = (
        keys.key_ring()
        .current.private_key.public_key()
        .public_bytes(
            keys.serialization.Encoding.PEM, keys.serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    hs_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{payload}"
    hs_signature = _b64(hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest())
    attacker = rsa_key("attacker")

    def sign(extra: dict[str, Any], key: Any = None, key_id: str = kid) -> str:
        return jwt.encode(
            {**claims, **extra}, key or attacker, algorithm="RS256", headers={"kid": key_id}
        )

    now = int(time.time())
    return {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{payload}.",
        "HS256 signed with the public key": f"{hs_input}.{hs_signature}",
        "another RSA key with a known kid": sign({}),
        "unknown kid": sign({}, key_id="attacker-key"),
        "expired": keys.sign({**claims, "iat": now - 400, "exp": now - 60}),
        "tampered payload": f"{header}.{_b64({**claims, 'is_staff': True})}.{signature}",
        "refresh token used as access": keys.sign({**claims, "token_type": "refresh"}),
        "unknown token type": keys.sign({**claims, "token_type": "sliding"}),
    }


FORGERIES = [
    "alg none",
    "HS256 signed with the public key",
    "another RSA key with a known kid",
    "unknown kid",
    "expired",
    "tampered payload",
    "refresh token used as access",
    "unknown token type",
]


@pytest.mark.parametrize("forgery", FORGERIES)
def test_forged_tokens_are_refused_with_401(
    api: APIClient, make_user: MakeUser, login: Login, forgery: str
) -> None:
    make_user("alice", is_staff=False)
    token = forgeries(login()["access"])[forgery]

    response = me(api, token)

    assert response.status_code == 401, forgery
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] == "token_not_valid"


def test_a_refresh_token_is_refused_as_a_bearer_token(
    api: APIClient, make_user: MakeUser, login: Login
) -> None:
    make_user("alice")

    assert me(api, login()["refresh"]).status_code == 401


def test_a_forged_refresh_token_cannot_be_refreshed(
    api: APIClient, make_user: MakeUser, login: Login
) -> None:
    make_user("alice")
    refresh = login()["refresh"]
    claims = jwt.decode(refresh, options={"verify_signature": False})
    kid = jwt.get_unverified_header(refresh)["kid"]
    forged = jwt.encode(claims, rsa_key("attacker"), algorithm="RS256", headers={"kid": kid})

    assert api.post("/auth/refresh", {"refresh": forged}).status_code == 401


# --- keys ---------------------------------------------------------------------------


def test_jwks_lists_the_public_key_with_its_kid(api: APIClient, login: Login, make_user) -> None:
    make_user("alice")
    kid = jwt.get_unverified_header(login()["access"])["kid"]

    for path in ("/.well-known/jwks.json", "/.well-known/jwks.json/"):
        response = api.get(path)
        assert response.status_code == 200
        (key,) = response.json()["keys"]
        assert key["kid"] == kid
        assert {key["kty"], key["alg"], key["use"]} == {"RSA", "RS256", "sig"}
        assert set(key) == {"kty", "kid", "n", "e", "alg", "use"}


def test_rotation_keeps_tokens_of_the_previous_key_valid(
    api: APIClient, make_user: MakeUser, login: Login
) -> None:
    # given tokens signed before the rotation
    make_user("alice")
    old = login()
    old_kid = jwt.get_unverified_header(old["access"])["kid"]

    # when the key is rotated
    call_command("rotate_signing_key", stdout=open("/dev/null", "w"))  # noqa: SIM115
    new = login()

    # then new tokens carry the new kid, the JWKS lists both, and old tokens still work
    new_kid = jwt.get_unverified_header(new["access"])["kid"]
    assert new_kid != old_kid
    assert [k["kid"] for k in api.get("/.well-known/jwks.json").json()["keys"]] == [
        new_kid,
        old_kid,
    ]
    assert me(api, old["access"]).status_code == 200
    assert me(api, new["access"]).status_code == 200
    assert api.post("/auth/refresh", {"refresh": old["refresh"]}).status_code == 200
