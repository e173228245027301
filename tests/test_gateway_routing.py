"""The gateway in front of the real suite: routes, tokens, rate limits, links, docs."""

from __future__ import annotations

import time

import pytest
import requests

from gateway_support import bearer, register_and_login

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory, postgres):  # type: ignore[no-untyped-def]
    from support import Suite

    suite = Suite(
        var_dir=tmp_path_factory.mktemp("gateway-suite"),
        env={**postgres.suite_databases("gateway_routing"), "GATEWAY_LOGIN_RATE_LIMIT": "5/min"},
    )
    suite.up()
    yield suite
    suite.down()


def gw(suite, path: str) -> str:  # type: ignore[no-untyped-def]
    return suite.url("api-gateway", path)


def test_unknown_and_internal_paths_are_json_404s_with_or_without_a_token(suite) -> None:
    for path in ["/no/such/path", "/internal/users/1/erase", "/todos/../internal/users/1/erase"]:
        for headers in ({}, bearer("anything")):
            response = requests.post(gw(suite, path), headers=headers, timeout=5)

            assert response.status_code == 404, (path, response.text)
            assert response.json()["code"] == "not_found"


def test_protected_routes_without_a_valid_token_are_401_with_a_challenge(suite) -> None:
    for headers in ({}, bearer("forged.token.here")):
        for path in ["/todos", "/users/me", "/notifications"]:
            response = requests.get(gw(suite, path), headers=headers, timeout=5)

            assert response.status_code == 401, (path, response.text)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert response.json()["code"] in {"not_authenticated", "token_not_valid"}


def test_a_user_signs_up_and_works_with_todos_through_the_gateway(suite) -> None:
    # given a user logged in through the gateway
    tokens = register_and_login(suite)
    auth = bearer(tokens["access"])

    # when they create two todos and list them one per page, with and without a slash
    for title in ["first", "second"]:
        created = requests.post(gw(suite, "/todos"), json={"title": title}, headers=auth, timeout=5)
        assert created.status_code == 201, created.text
    page = requests.get(gw(suite, "/todos/?page_size=1"), headers=auth, timeout=5)
    same = requests.get(gw(suite, "/todos?page_size=1"), headers=auth, timeout=5)

    # then the pages come back, and `next` points at the gateway, not at todo-service
    assert page.status_code == 200, page.text
    assert page.json()["count"] == 2
    assert same.json()["count"] == 2
    assert page.json()["next"].startswith(f"http://127.0.0.1:{suite.ports['api-gateway']}/")
    assert page.headers["X-RateLimit-Limit"] == "600"
    assert "X-Request-ID" in page.headers


def test_a_logged_out_access_token_is_refused_at_the_gateway(suite) -> None:
    tokens = register_and_login(suite)
    auth = bearer(tokens["access"])
    assert requests.get(gw(suite, "/users/me"), headers=auth, timeout=5).status_code == 200

    logout = requests.post(
        gw(suite, "/auth/logout"), json={"refresh": tokens["refresh"]}, headers=auth, timeout=5
    )
    assert logout.status_code == 204, logout.text
    response = requests.get(gw(suite, "/todos"), headers=auth, timeout=5)

    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_login_is_throttled_per_ip_with_the_rate_limit_headers(suite) -> None:
    # the suite runs with GATEWAY_LOGIN_RATE_LIMIT=5/min (register_and_login used some)
    statuses = []
    for _ in range(7):
        response = requests.post(
            gw(suite, "/auth/login"), json={"username": "x", "password": "y"}, timeout=5
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            break

    assert statuses[-1] == 429, statuses
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["RateLimit-Policy"] == '"login";q=5;w=60'
    assert response.headers["RateLimit"].startswith('"login";r=0;t=')
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert response.json()["code"] == "rate_limited"


def test_docs_lists_every_services_schema_through_the_gateway(suite) -> None:
    page = requests.get(gw(suite, "/docs"), timeout=5)
    schema = requests.get(gw(suite, "/schemas/todo-service"), timeout=5)

    assert page.status_code == 200
    for service in ["todo-service", "user-service", "notification-service"]:
        assert f"/schemas/{service}" in page.text
    assert schema.status_code == 200, schema.text
    assert "/todos" in schema.text


def test_one_access_log_line_per_request_names_the_upstream_and_instance(suite) -> None:
    requests.get(
        gw(suite, "/.well-known/jwks.json"), headers={"X-Request-ID": "e2e-log"}, timeout=5
    )
    time.sleep(0.3)  # the line is written after the response

    [line] = [
        entry
        for entry in suite.log_lines("api-gateway")
        if entry.get("request_id") == "e2e-log" and entry.get("message") == "request"
    ]
    assert line["path"] == "/.well-known/jwks.json"
    assert line["status"] == 200
    assert line["upstream"] == "user-service"
    assert line["instance"] == f"http://127.0.0.1:{suite.ports['user-service']}"
    assert line["duration_ms"] >= 0
