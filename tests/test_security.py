"""Security end to end: internal routes, BOLA, mass assignment, forged tokens, logs.

The promises are docs/spec/targets.md, "Security".

Everything runs against one running suite (the ``shared_suite`` fixture), with
real users signed up through the gateway and tokens signed (or forged) with the
suite's own development key under ``VAR_DIR/keys``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from servicekit.testing import rsa_key, wait_for

from gateway_support import PASSWORD, bearer, register_and_login
from support import Suite

pytestmark = pytest.mark.e2e

# A protected route of each service, and where the gateway sends it.
PROTECTED = {
    "todo-service": "/todos",
    "user-service": "/users/me",
    "notification-service": "/notifications",
}


@dataclass
class User:
    id: int
    username: str
    access: str
    refresh: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.access)


def sign_up(suite: Suite) -> User:
    tokens = register_and_login(suite)
    claims = jwt.decode(tokens["access"], options={"verify_signature": False})
    return User(int(claims["user_id"]), claims["username"], tokens["access"], tokens["refresh"])


@pytest.fixture(scope="module")
def alice(shared_suite: Suite) -> User:
    return sign_up(shared_suite)


@pytest.fixture(scope="module")
def bob(shared_suite: Suite) -> User:
    return sign_up(shared_suite)


def call(suite: Suite, service: str, method: str, path: str, user: User | None = None, **kw: Any):  # type: ignore[no-untyped-def]
    headers = {**(user.headers if user else {}), **kw.pop("headers", {})}
    return requests.request(method, suite.url(service, path), headers=headers, timeout=10, **kw)


# --- /internal/ -----------------------------------------------------------------------

# Every spelling of an internal route a client might try through the gateway. They are
# sent byte for byte (http.client): requests would resolve the dot segments itself.
INTERNAL_PATHS = [
    "/internal/users/1",
    "/internal/users/1/erase",
    "/todos/../internal/users/1/erase",
    "/users/1/../../internal/users/1",
    "/todos/%2e%2e/internal/users/1/erase",
    "/todos/%2E%2E/%69nternal/users/1/erase",
    "/todos/..%2finternal%2fusers%2f1%2ferase",
    "//internal/users/1",
    "/todos//internal/users/1/erase",
    "/notifications/./../internal/users/1/purge",
    "/Internal/users/1",
    "/INTERNAL/users/1/erase",
    "/todos/../Internal/users/1/erase",
    "/users/../INTERNAL/users/1",
]


def raw_request(port: int, method: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        body = b'{"saga_id": "00000000-0000-4000-8000-000000000001"}' if method == "POST" else None
        connection.request(
            method, path, body=body, headers={**headers, "Content-Type": "application/json"}
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_internal_routes_in_every_spelling_are_404s_from_the_gateway_itself(
    shared_suite: Suite, alice: User
) -> None:
    # when a signed-in user tries every spelling of an internal route through the gateway
    sent: dict[str, str] = {}
    wrong: list[str] = []
    for number, path in enumerate(INTERNAL_PATHS):
        for method in ("GET", "POST"):
            request_id = f"internal-probe-{uuid.uuid4().hex[:8]}-{number}-{method}"
            sent[request_id] = f"{method} {path}"
            status, body = raw_request(
                shared_suite.ports["api-gateway"],
                method,
                path,
                {**alice.headers, "X-Request-ID": request_id},
            )
            if status != 404:
                wrong.append(f"{method} {path} -> {status} {body[:200]!r}")

    # then each is a 404 ...
    assert not wrong, "internal routes answered other than 404:\n" + "\n".join(wrong)

    # ... that the gateway answered itself: its access log names no upstream for any of them
    def logged() -> list[dict[str, Any]]:
        return [
            line
            for line in shared_suite.log_lines("api-gateway")
            if line.get("request_id") in sent and line.get("message") == "request"
        ]

    wait_for(lambda: len(logged()) == len(sent), timeout=5, what="an access log line per probe")
    forwarded = [
        f"{sent[line['request_id']]} went to {line['upstream']} ({line.get('instance')})"
        for line in logged()
        if line.get("upstream")
    ]
    assert not forwarded, "the gateway forwarded internal routes:\n" + "\n".join(forwarded)


INTERNAL_ENDPOINTS = [
    ("user-service", "GET", "/internal/users/{id}"),
    *[
        (service, "POST", f"/internal/users/{{id}}/{step}")
        for service in ("todo-service", "notification-service")
        for step in ("erase", "restore", "purge")
    ],
]


@pytest.mark.parametrize(("service", "method", "route"), INTERNAL_ENDPOINTS)
def test_internal_endpoints_refuse_user_tokens_on_the_services_own_port(
    shared_suite: Suite, alice: User, service: str, method: str, route: str
) -> None:
    path = route.format(id=alice.id)
    body = {"saga_id": str(uuid.uuid4())}

    as_user = call(shared_suite, service, method, path, alice, json=body)
    anonymous = call(shared_suite, service, method, path, json=body)

    assert as_user.status_code == 403, (
        f"{method} {path} on {service} with a user's token: {as_user.status_code} {as_user.text}"
    )
    assert anonymous.status_code == 401, (
        f"{method} {path} on {service} without a token: {anonymous.status_code} {anonymous.text}"
    )


# --- BOLA -----------------------------------------------------------------------------


def test_another_users_objects_are_404_on_every_endpoint_through_the_gateway_and_directly(
    shared_suite: Suite, alice: User, bob: User
) -> None:
    # given bob owns a todo and a notification (his welcome email)
    todo = call(shared_suite, "api-gateway", "POST", "/todos", bob, json={"title": "bob's"})
    assert todo.status_code == 201, todo.text

    def bobs_notifications() -> list[dict[str, Any]]:
        page = call(shared_suite, "api-gateway", "GET", "/notifications", bob).json()
        return list(page["results"])

    wait_for(lambda: bobs_notifications(), timeout=30, what="bob's welcome notification")
    notification_id = bobs_notifications()[0]["id"]
    todo_id = todo.json()["id"]
    # (todos/{id} GET/PUT/PATCH/DELETE and POST .../complete through the gateway are in
    # test_journey.py; every method on todo-service's own port in test_todo_api.py.)
    endpoints = [
        ("todo-service", "PUT", f"/todos/{todo_id}/complete"),
        ("user-service", "GET", f"/users/{bob.id}"),
        ("notification-service", "GET", f"/notifications/{notification_id}"),
    ]

    # when alice asks for them, through the gateway and on each service's own port
    wrong = []
    for service, method, path in endpoints:
        for via in ("api-gateway", service):
            response = call(shared_suite, via, method, path, alice, json={"title": "pwned"})
            if response.status_code != 404:
                wrong.append(f"{method} {path} via {via}: {response.status_code} {response.text}")

    # then every answer is a 404, and bob's todo is untouched
    assert not wrong, "alice reached bob's objects:\n" + "\n".join(wrong)
    mine = call(shared_suite, "api-gateway", "GET", f"/todos/{todo_id}", bob).json()
    assert (mine["title"], mine["completed"]) == ("bob's", False)
    # and bob sees himself, so the 404s above are about ownership, not a broken route
    assert call(shared_suite, "user-service", "GET", f"/users/{bob.id}", bob).status_code == 200


# --- mass assignment ------------------------------------------------------------------


def test_user_id_id_and_is_staff_in_todo_bodies_are_ignored(
    shared_suite: Suite, alice: User, bob: User
) -> None:
    forged = {"user_id": bob.id, "id": 999_999, "is_staff": True}

    # when alice creates a todo claiming to be bob, then updates it claiming the same
    created = call(
        shared_suite, "api-gateway", "POST", "/todos", alice, json={"title": "mine", **forged}
    )
    assert created.status_code == 201, created.text
    todo_id = created.json()["id"]
    patched = call(shared_suite, "api-gateway", "PATCH", f"/todos/{todo_id}", alice, json=forged)
    put = call(
        shared_suite,
        "api-gateway",
        "PUT",
        f"/todos/{todo_id}",
        alice,
        json={"title": "still mine", **forged},
    )

    # then the todo is alice's, with the id the service gave it
    assert created.json()["user_id"] == alice.id, created.json()
    assert todo_id != 999_999
    for response in (patched, put):
        assert response.status_code == 200, response.text
        assert (response.json()["id"], response.json()["user_id"]) == (todo_id, alice.id)
    assert call(shared_suite, "api-gateway", "GET", f"/todos/{todo_id}", bob).status_code == 404
    assert call(shared_suite, "api-gateway", "GET", "/todos/999999", alice).status_code == 404


def test_is_staff_id_and_username_in_a_users_me_patch_are_ignored(
    shared_suite: Suite, bob: User
) -> None:
    # when bob patches himself with fields he must not set, and one he may (email)
    email = f"{bob.username}-new@example.com"
    response = call(
        shared_suite,
        "api-gateway",
        "PATCH",
        "/users/me",
        bob,
        json={"is_staff": True, "id": 1, "username": "root", "email": email},
    )

    # then only the email changed
    assert response.status_code == 200, response.text
    assert response.json()["id"] == bob.id
    assert response.json()["username"] == bob.username
    assert response.json()["email"] == email
    # and he is no staff member: a new token says so, and /users still lists only himself
    login = call(
        shared_suite,
        "api-gateway",
        "POST",
        "/auth/login",
        json={"username": bob.username, "password": PASSWORD},
    )
    assert (
        jwt.decode(login.json()["access"], options={"verify_signature": False})["is_staff"] is False
    )
    listed = call(shared_suite, "api-gateway", "GET", "/users", bob).json()
    assert [user["id"] for user in listed["results"]] == [bob.id]


# --- forged tokens ----------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def forgeries(suite: Suite, user: User) -> dict[str, str]:
    """Each forgery of docs/spec/targets.md, "Security", signed with the suite's real key
    where that helps the forger."""
    [key_file] = (suite.var_dir / "keys" / "user-service").glob("*.pem")
    kid = key_file.stem
    real_key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    public_pem = real_key.public_key().public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    claims = {
        "token_type": "access",
        "user_id": user.id,
        "sub": str(user.id),
        "username": user.username,
        "is_staff": False,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }

    def hs256_with_public_key() -> str:
        signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": kid}, claims)
        signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"

    def tampered() -> str:
        header, _, signature = user.access.split(".")
        payload = json.loads(base64.urlsafe_b64decode(user.access.split(".")[1] + "=="))
        payload.update(is_staff=True, user_id=user.id + 1000)
        return f"{header}.{_b64(json.dumps(payload).encode())}.{signature}"

    def rs256(key: Any, key_id: str, **changes: Any) -> str:
        return jwt.encode({**claims, **changes}, key, algorithm="RS256", headers={"kid": key_id})

    return {
        "alg none": _unsigned({"alg": "none", "typ": "JWT", "kid": kid}, claims) + ".",
        "HS256 signed with the public key": hs256_with_public_key(),
        "wrong key (the real kid)": rs256(rsa_key("e2e-forger"), kid),
        "unknown kid (signed with the real key)": rs256(real_key, "no-such-kid"),
        "expired": rs256(real_key, kid, iat=now - 7200, exp=now - 3600),
        "tampered payload": tampered(),
        "refresh token used as access": user.refresh,
    }


FORGERIES = [
    "alg none",
    "HS256 signed with the public key",
    "wrong key (the real kid)",
    "unknown kid (signed with the real key)",
    "expired",
    "tampered payload",
    "refresh token used as access",
]


@pytest.fixture(scope="module")
def forged(shared_suite: Suite) -> Callable[[str], str]:
    # A user of its own: nothing else in this module may revoke or change it.
    user = sign_up(shared_suite)
    tokens = forgeries(shared_suite, user)
    assert sorted(tokens) == sorted(FORGERIES)
    # the genuine token works everywhere, so every 401 below is the forgery's
    for service, path in PROTECTED.items():
        for via in ("api-gateway", service):
            response = call(shared_suite, via, "GET", path, user)
            assert response.status_code == 200, (via, path, response.text)
    return tokens.__getitem__


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_token_is_401_at_the_gateway_and_at_each_service(
    shared_suite: Suite, forged: Callable[[str], str], forgery: str
) -> None:
    headers = bearer(forged(forgery))

    wrong = []
    for service, path in PROTECTED.items():
        for via in ("api-gateway", service):
            response = requests.get(shared_suite.url(via, path), headers=headers, timeout=10)
            if response.status_code != 401 or "WWW-Authenticate" not in response.headers:
                wrong.append(f"GET {path} via {via}: {response.status_code} {response.text}")

    assert not wrong, f"a token forged as '{forgery}' was not refused with 401:\n" + "\n".join(
        wrong
    )


# --- logs -------------------------------------------------------------------------------


def test_no_password_or_token_is_ever_logged(shared_suite: Suite, alice: User, bob: User) -> None:
    # given everything the tests above did (sign-ups, logins, forged and real tokens)
    secrets = {
        "the password": PASSWORD,
        "alice's access token": alice.access,
        "alice's refresh token": alice.refresh,
        "bob's access token": bob.access,
        "bob's refresh token": bob.refresh,
        # the part of a JWT that is secret-bearing on its own: its signature
        "alice's token signature": alice.access.rsplit(".", 1)[1],
    }

    found = []
    for log in sorted((shared_suite.var_dir / "log").glob("*.log")):
        text = log.read_text(errors="replace")
        found += [f"{name} in {log.name}" for name, secret in secrets.items() if secret in text]

    assert not found, "secrets in the logs:\n" + "\n".join(found)
