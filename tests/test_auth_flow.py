"""user-service for real: register, log in, use the token, log out, and service tokens."""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.e2e

PASSWORD = "correct-horse-battery-staple"


def test_a_user_registers_logs_in_and_out_and_the_old_token_is_refused(make_suite) -> None:
    # given a running suite
    suite = make_suite()
    suite.up()
    url = lambda path: suite.url("user-service", path)  # noqa: E731
    keys = list((suite.var_dir / "keys" / "user-service").glob("*.pem"))
    assert len(keys) == 1, "up creates the development signing key"

    # when alice registers, logs in and looks at herself
    registered = requests.post(
        url("/auth/register"),
        json={"username": "alice", "email": "alice@example.com", "password": PASSWORD},
        timeout=5,
    )
    assert registered.status_code == 201, registered.text
    pair = requests.post(
        url("/auth/login/"), json={"username": "Alice", "password": PASSWORD}, timeout=5
    ).json()
    bearer = {"Authorization": f"Bearer {pair['access']}"}
    me = requests.get(url("/users/me"), headers=bearer, timeout=5)
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    jwks = requests.get(url("/.well-known/jwks.json"), timeout=5).json()
    assert [key["kid"] for key in jwks["keys"]] == [keys[0].stem]

    # and logs out
    logout = requests.post(
        url("/auth/logout"), json={"refresh": pair["refresh"]}, headers=bearer, timeout=5
    )
    assert logout.status_code == 204

    # then the old access token is refused (by every gunicorn worker: the denylist is in Redis)
    for _ in range(4):
        refused = requests.get(url("/users/me"), headers=bearer, timeout=5)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    again = requests.post(url("/auth/refresh"), json={"refresh": pair["refresh"]}, timeout=5)
    assert again.status_code == 401


def test_a_service_reads_a_user_with_a_service_token(make_suite) -> None:
    suite = make_suite()
    suite.up()
    url = lambda path: suite.url("user-service", path)  # noqa: E731
    user = requests.post(
        url("/auth/register"),
        json={"username": "bob", "email": "bob@example.com", "password": PASSWORD},
        timeout=5,
    ).json()

    # the development client credentials, sent as notification-service sends them
    # (client_secret_basic, notifications/integrations/service_tokens.py)
    granted = requests.post(
        url("/auth/token"),
        data={"grant_type": "client_credentials"},
        auth=("notification-service", "dev-notification-service-secret"),
        timeout=5,
    )
    assert granted.status_code == 200, granted.text
    service_token = granted.json()["access_token"]
    response = requests.get(
        url(f"/internal/users/{user['id']}"),
        headers={"Authorization": f"Bearer {service_token}"},
        timeout=5,
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": user["id"],
        "username": "bob",
        "email": "bob@example.com",
        "is_active": True,
    }
    assert requests.get(url(f"/internal/users/{user['id']}"), timeout=5).status_code == 401
