"""Browser sessions at the gateway: login page, cookies, CSRF, refresh, logout.

user-service is a fake HTTP peer here that issues real tokens (the gateway
checks them as it checks user-service's); the whole flow against the real
services is in tests/test_browser_sessions.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.cookies import Morsel
from typing import Any

import jwt
import pytest
from django.test import Client
from servicekit import tokens
from servicekit.testing import TokenFactory

from gateway import browser
from gateway.tests.conftest import FakeUpstream, Handler
from gateway.tests.helpers import bearer

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
PASSWORD = "right-password"


@pytest.fixture
def accounts(
    make_upstream: Callable[..., FakeUpstream], settings: Any, token_factory: TokenFactory
) -> FakeUpstream:
    """A user-service that logs ann in, refreshes her tokens once each and logs her out."""
    upstream = make_upstream()
    used: set[str] = set()

    def pair() -> dict[str, Any]:
        refresh = token_factory.sign(
            token_factory.claims(lifetime=3600, token_type="refresh", user_id=7, username="ann")
        )
        return {"access": token_factory.access(7, username="ann"), "refresh": refresh,
                "token_type": "Bearer", "expires_in": 300}  # fmt: skip

    def behaviour(handler: Handler) -> None:
        body = json.loads(upstream.received[-1].body or b"{}")
        path = handler.path
        if path == "/auth/login" and body.get("password") == PASSWORD:
            handler.reply(200, pair())
        elif path == "/auth/login":
            refusal = {"detail": "Wrong username or password.", "code": "invalid_credentials"}
            handler.reply(401, refusal)
        elif path == "/auth/refresh" and body["refresh"] not in used:
            used.add(body["refresh"])
            time.sleep(upstream.refresh_delay)  # type: ignore[attr-defined]
            handler.reply(200, pair())
        elif path == "/auth/refresh":
            handler.reply(401, {"detail": "Token is blacklisted", "code": "token_not_valid"})
        elif path == "/auth/logout":
            handler.send_response(204)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
        else:
            handler.reply(404, {"detail": "Not found.", "code": "not_found"})

    upstream.behaviour = behaviour
    upstream.refresh_delay = 0.0  # type: ignore[attr-defined]
    settings.UPSTREAMS = {**settings.UPSTREAMS, "user-service": [upstream.url]}
    return upstream


@pytest.fixture
def browser_client() -> Client:
    return Client(enforce_csrf_checks=True)


def csrf_token(client: Client) -> str:
    """What the login page's form carries (and a service's page, from X-Gateway-CSRF-Token)."""
    page = client.get("/auth/login", headers=HTML).content.decode()
    return page.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]


def log_in(client: Client, *, next_url: str = "/todos", secure: bool = False) -> Any:
    token = csrf_token(client)
    return client.post(
        "/auth/login",
        {"username": "ann", "password": PASSWORD, "next": next_url, "csrfmiddlewaretoken": token},
        # Over HTTPS Django's check also wants the page's origin (browsers send it).
        headers={**HTML, "Origin": "https://testserver"} if secure else HTML,
        secure=secure,
    )


def paths(upstream: FakeUpstream) -> list[str]:
    return [received.path for received in upstream.received]


def expire_access_cookie(client: Client, token_factory: TokenFactory) -> None:
    claims = token_factory.claims(token_type="access", user_id=7, username="ann")
    expired = token_factory.sign({**claims, "exp": int(time.time()) - 60})
    client.cookies[browser.ACCESS_COOKIE] = expired


# -- the login page and form ---------------------------------------------------


def test_the_login_page_is_html_with_a_csrf_protected_form(
    browser_client: Client, accounts: FakeUpstream
) -> None:
    page = browser_client.get("/auth/login?next=/notifications", headers=HTML)

    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert 'name="password"' in html
    assert 'name="next" value="/notifications"' in html
    cookie = page.cookies["gateway_csrftoken"]
    assert (cookie["samesite"], cookie["httponly"]) == ("Strict", "")
    assert accounts.received == []


def test_logging_in_sets_http_only_strict_cookies_and_goes_to_next(
    browser_client: Client, accounts: FakeUpstream
) -> None:
    response = log_in(browser_client, next_url="/todos?page=2")

    assert response.status_code == 303
    assert response["Location"] == "/todos?page=2"
    assert json.loads(accounts.received[0].body) == {"username": "ann", "password": PASSWORD}
    for name in (browser.ACCESS_COOKIE, browser.REFRESH_COOKIE):
        cookie: Morsel[str] = response.cookies[name]
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Strict"
        assert cookie["secure"] == ""  # plain HTTP: a Secure cookie would never come back
        assert cookie["path"] == "/"
    assert response.cookies[browser.ACCESS_COOKIE]["max-age"] == 300


def test_cookies_are_secure_when_the_request_came_over_https(
    browser_client: Client, accounts: FakeUpstream
) -> None:
    response = log_in(browser_client, secure=True)

    assert response.status_code == 303
    assert response.cookies[browser.ACCESS_COOKIE]["secure"] is True
    assert response.cookies[browser.REFRESH_COOKIE]["secure"] is True
    assert response.cookies["gateway_csrftoken"]["secure"] is True


def test_a_wrong_password_shows_the_login_page_again_with_user_services_reason(
    browser_client: Client, accounts: FakeUpstream
) -> None:
    token = csrf_token(browser_client)
    response = browser_client.post(
        "/auth/login",
        {"username": "ann", "password": "wrong", "csrfmiddlewaretoken": token},
        headers=HTML,
    )

    assert response.status_code == 401
    assert "Wrong username or password." in response.content.decode()
    assert browser.ACCESS_COOKIE not in response.cookies


def test_a_login_form_without_the_csrf_token_is_refused_before_user_service(
    browser_client: Client, accounts: FakeUpstream
) -> None:
    response = browser_client.post(
        "/auth/login", {"username": "ann", "password": PASSWORD}, headers=HTML
    )

    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert accounts.received == []


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/todos", "/\\evil.example", "javascript:alert(1)", ""],
)
def test_next_never_leaves_the_gateway(
    browser_client: Client, accounts: FakeUpstream, next_url: str
) -> None:
    response = log_in(browser_client, next_url=next_url)

    assert response.status_code == 303
    assert response["Location"] == "/todos"


def test_the_json_login_is_relayed_as_before(client: Client, accounts: FakeUpstream) -> None:
    response = client.post(
        "/auth/login", {"username": "ann", "password": PASSWORD}, content_type="application/json"
    )

    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh", "token_type", "expires_in"}
    assert not response.cookies


def test_the_login_rate_limit_applies_to_the_form_and_not_to_the_page(
    browser_client: Client, accounts: FakeUpstream, settings: Any
) -> None:
    settings.GATEWAY_LOGIN_RATE_LIMIT = (2, 60)
    token = csrf_token(browser_client)
    form = {"username": "ann", "password": "wrong", "csrfmiddlewaretoken": token}
    statuses = []
    for _ in range(3):
        browser_client.get("/auth/login", headers=HTML)  # the page does not count
        statuses.append(browser_client.post("/auth/login", form, headers=HTML))

    assert [response.status_code for response in statuses] == [401, 401, 429]
    refused = statuses[-1]
    assert refused["Content-Type"].startswith("text/html")
    assert "Rate limit of 2 requests per 60 s exceeded" in refused.content.decode()
    assert int(refused["Retry-After"]) > 0
    assert len(accounts.received) == 2


# -- a session's requests --------------------------------------------------------


def test_the_cookie_becomes_the_bearer_header_and_never_reaches_the_service(
    browser_client: Client, accounts: FakeUpstream, todo: FakeUpstream
) -> None:
    log_in(browser_client)
    browser_client.cookies["theme"] = "dark"

    response = browser_client.get("/todos", headers=HTML)

    assert response.status_code == 200
    forwarded = todo.received[0].headers
    token = forwarded["authorization"].removeprefix("Bearer ")
    assert token == browser_client.cookies[browser.ACCESS_COOKIE].value
    assert forwarded["x-user-id"] == "7"
    assert forwarded["cookie"] == "theme=dark"
    assert len(forwarded["x-gateway-csrf-token"]) == 64


def test_a_bearer_header_wins_over_the_cookies_which_are_still_stripped(
    browser_client: Client, accounts: FakeUpstream, todo: FakeUpstream, token_factory: TokenFactory
) -> None:
    log_in(browser_client)
    token = token_factory.access(8, username="bob")

    response = browser_client.post(
        "/todos", {"title": "x"}, content_type="application/json", headers=bearer(token)
    )

    assert response.status_code == 200  # no CSRF check: the header authenticates
    forwarded = todo.received[0].headers
    assert forwarded["x-user-id"] == "8"
    assert "cookie" not in forwarded
    assert "x-gateway-csrf-token" not in forwarded


def test_a_client_cannot_send_its_own_gateway_csrf_token_header(
    client: Client, token_factory: TokenFactory, todo: FakeUpstream
) -> None:
    client.get(
        "/todos", headers={**bearer(token_factory.access(1)), "X-Gateway-CSRF-Token": "x" * 64}
    )

    assert "x-gateway-csrf-token" not in todo.received[0].headers


def test_an_unsafe_request_by_cookie_without_the_csrf_token_is_refused_and_not_forwarded(
    browser_client: Client, accounts: FakeUpstream, todo: FakeUpstream
) -> None:
    log_in(browser_client)

    forged = browser_client.post("/todos", {"title": "forged"}, headers=HTML)
    wrong = browser_client.delete("/todos/1", headers={**HTML, "X-CSRFToken": "a" * 64})

    assert (forged.status_code, wrong.status_code) == (403, 403)
    assert forged.json()["code"] == "csrf_failed"
    assert todo.received == []


def test_an_unsafe_request_by_cookie_with_the_csrf_token_is_forwarded_as_it_came(
    browser_client: Client, accounts: FakeUpstream, todo: FakeUpstream
) -> None:
    log_in(browser_client)
    token = csrf_token(browser_client)

    form = browser_client.post(
        "/todos", {"title": "from a form", "csrfmiddlewaretoken": token}, headers=HTML
    )
    ajax = browser_client.patch(
        "/todos/1", '{"completed": true}', content_type="application/json",
        headers={**HTML, "X-CSRFToken": token},
    )  # fmt: skip

    assert (form.status_code, ajax.status_code) == (200, 200)
    assert b'name="title"' in todo.received[0].body  # the form's body, untouched
    assert todo.received[1].body == b'{"completed": true}'


def test_no_session_asking_for_html_is_a_401_login_page_that_comes_back(
    browser_client: Client, todo: FakeUpstream
) -> None:
    response = browser_client.get("/todos?page=2", headers=HTML)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    html = response.content.decode()
    assert 'id="login-form"' in html
    assert 'name="next" value="/todos?page=2"' in html
    assert todo.received == []


def test_a_program_without_a_header_gets_the_json_401_as_before(
    client: Client, todo: FakeUpstream
) -> None:
    response = client.get("/todos", headers={"Accept": "application/json"})

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_an_expired_access_cookie_is_refreshed_and_the_new_pair_set(
    browser_client: Client, accounts: FakeUpstream, todo: FakeUpstream, token_factory: TokenFactory
) -> None:
    log_in(browser_client)
    old_refresh = browser_client.cookies[browser.REFRESH_COOKIE].value
    expire_access_cookie(browser_client, token_factory)

    response = browser_client.get("/todos", headers=HTML)

    assert response.status_code == 200
    assert paths(accounts) == ["/auth/login", "/auth/refresh"]
    assert json.loads(accounts.received[1].body) == {"refresh": old_refresh}
    new_access = response.cookies[browser.ACCESS_COOKIE].value
    assert todo.received[0].headers["authorization"] == f"Bearer {new_access}"
    assert response.cookies[browser.REFRESH_COOKIE].value != old_refresh


def test_requests_refreshing_the_same_token_at_once_share_one_refresh(
    accounts: FakeUpstream, todo: FakeUpstream, token_factory: TokenFactory
) -> None:
    first = Client(enforce_csrf_checks=True)
    log_in(first)
    accounts.refresh_delay = 0.3  # type: ignore[attr-defined]
    expire_access_cookie(first, token_factory)
    clients = [Client(), Client(), Client()]
    for other in clients:
        for name, morsel in first.cookies.items():
            other.cookies[name] = morsel.value
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda c=c: results.append(c.get("/todos", headers=HTML)))
        for c in clients
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [r.status_code for r in results] == [200, 200, 200]
    assert paths(accounts).count("/auth/refresh") == 1
    assert len({r.cookies[browser.ACCESS_COOKIE].value for r in results}) == 1


def test_a_refused_refresh_ends_the_session_with_the_login_page(
    browser_client: Client, accounts: FakeUpstream, todo: FakeUpstream, token_factory: TokenFactory
) -> None:
    log_in(browser_client)
    refresh = browser_client.cookies[browser.REFRESH_COOKIE].value
    browser_client.post(
        "/auth/refresh", json.dumps({"refresh": refresh}), content_type="application/json"
    )  # used up elsewhere
    expire_access_cookie(browser_client, token_factory)

    response = browser_client.get("/todos", headers=HTML)

    assert response.status_code == 401
    assert "Your session has ended" in response.content.decode()
    assert response.cookies[browser.ACCESS_COOKIE]["max-age"] == 0
    assert response.cookies[browser.REFRESH_COOKIE]["max-age"] == 0
    assert todo.received == []


def test_a_revoked_access_cookie_is_a_401_that_leads_to_the_login_page(
    browser_client: Client, accounts: FakeUpstream, todo: FakeUpstream
) -> None:
    log_in(browser_client)
    access = browser_client.cookies[browser.ACCESS_COOKIE].value
    claims = jwt.decode(access, options={"verify_signature": False})
    tokens.revoke(claims["jti"], expires_at=claims["exp"])

    program_client = Client()
    for name, morsel in browser_client.cookies.items():
        program_client.cookies[name] = morsel.value

    page = browser_client.get("/todos", headers=HTML)
    program = program_client.get("/todos", headers={"Accept": "application/json"})

    assert page.status_code == 401
    assert 'id="login-form"' in page.content.decode()
    assert page.cookies[browser.ACCESS_COOKIE]["max-age"] == 0
    assert program.status_code == 401
    assert program.json()["code"] == "token_not_valid"
    assert todo.received == []


def test_logging_out_revokes_both_tokens_at_user_service_and_clears_the_cookies(
    browser_client: Client, accounts: FakeUpstream, todo: FakeUpstream
) -> None:
    log_in(browser_client)
    access = browser_client.cookies[browser.ACCESS_COOKIE].value
    refresh = browser_client.cookies[browser.REFRESH_COOKIE].value
    token = csrf_token(browser_client)

    response = browser_client.post("/auth/logout", {"csrfmiddlewaretoken": token}, headers=HTML)

    assert response.status_code == 303
    assert response["Location"] == "/auth/login?logged_out=1"
    logout = accounts.received[-1]
    assert logout.path == "/auth/logout"
    assert logout.headers["authorization"] == f"Bearer {access}"
    assert json.loads(logout.body) == {"refresh": refresh}
    assert "cookie" not in logout.headers
    for name in (browser.ACCESS_COOKIE, browser.REFRESH_COOKIE):
        assert response.cookies[name]["max-age"] == 0
    after = browser_client.get("/todos", headers=HTML)
    assert after.status_code == 401
    assert todo.received == []


def test_logging_out_needs_the_csrf_token(browser_client: Client, accounts: FakeUpstream) -> None:
    log_in(browser_client)

    response = browser_client.post("/auth/logout", headers=HTML)

    assert response.status_code == 403
    assert paths(accounts) == ["/auth/login"]
