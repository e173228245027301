"""A browser's session through the gateway, end to end, without a browser.

A ``requests.Session`` plays the browser (it keeps cookies, sends forms and
``Accept: text/html``) against a running suite: the gateway's login page and
form, DRF's browsable API pages served by the services, CSRF refusals,
refresh and logout with user-service for real. The same flow in Chromium is
tests/browser/test_browsable_api.py; the gateway's side alone (cookie flags,
what reaches a service) is gateway_project/gateway/tests/test_browser.py.
"""

from __future__ import annotations

import re
import uuid

import pytest
import requests

from gateway_support import PASSWORD, bearer
from support import Suite

pytestmark = pytest.mark.e2e

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
ACCESS, REFRESH, CSRF = "gateway_access", "gateway_refresh", "gateway_csrftoken"


def form_token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def browser_login(suite: Suite) -> tuple[requests.Session, str, str]:
    """A fresh user logged in through the login page: the session, gateway URL, username."""
    gateway = suite.url("api-gateway", "")
    username = _new_user(suite)
    session = requests.Session()
    page = session.get(f"{gateway}/auth/login?next=/todos", headers=HTML, timeout=10)
    assert page.status_code == 200, page.text
    response = session.post(
        f"{gateway}/auth/login",
        data={
            "username": username,
            "password": PASSWORD,
            "next": "/todos",
            "csrfmiddlewaretoken": form_token(page.text),
        },
        headers=HTML,
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 303, response.text
    assert response.headers["Location"] == "/todos"
    return session, gateway, username


def _new_user(suite: Suite) -> str:
    username = f"b{uuid.uuid4().hex[:10]}"
    registered = requests.post(
        suite.url("api-gateway", "/auth/register"),
        json={"username": username, "email": f"{username}@example.com", "password": PASSWORD},
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    return username


def test_a_browser_logs_in_and_uses_the_browsable_api_through_the_gateway(
    shared_suite: Suite,
) -> None:
    session, gateway, username = browser_login(shared_suite)

    # the list is DRF's page, served by todo-service through the gateway
    page = session.get(f"{gateway}/todos", headers=HTML, timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert 'id="post-object-form"' in page.text  # the HTML form to create a todo
    assert 'id="logout-form"' in page.text
    assert username in page.text

    # the HTML form creates a todo (a plain form POST: the token in the body)
    created = session.post(
        f"{gateway}/todos",
        files={"title": (None, "from the browsable API"), "priority": (None, "high"),
               "csrfmiddlewaretoken": (None, form_token(page.text))},
        headers=HTML,
        timeout=10,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    todo_id = session.get(f"{gateway}/todos", timeout=10).json()["results"][0]["id"]

    # DRF's page's AJAX form completes it (the token in X-CSRFToken)
    detail = session.get(f"{gateway}/todos/{todo_id}", headers=HTML, timeout=10)
    assert 'data-method="PUT"' in detail.text
    completed = session.put(
        f"{gateway}/todos/{todo_id}",
        files={"completed": (None, "true")},
        headers={**HTML, "X-CSRFToken": form_token(detail.text)},
        timeout=10,
    )
    assert completed.status_code == 200, completed.text
    as_json = session.get(f"{gateway}/todos/{todo_id}", timeout=10).json()
    assert (as_json["title"], as_json["completed"]) == ("from the browsable API", True)

    # the other user-facing routes are DRF's pages too
    for path in ("/todos/stats", "/notifications", "/users/me"):
        response = session.get(f"{gateway}{path}", headers=HTML, timeout=10)
        assert response.status_code == 200, (path, response.text[:300])
        assert 'id="logout-form"' in response.text, path


def test_pagination_links_on_the_pages_stay_on_the_gateway(shared_suite: Suite) -> None:
    session, gateway, _ = browser_login(shared_suite)
    token = form_token(session.get(f"{gateway}/todos", headers=HTML, timeout=10).text)
    for title in ("one", "two", "three"):
        response = session.post(
            f"{gateway}/todos", json={"title": title}, headers={"X-CSRFToken": token}, timeout=10
        )
        assert response.status_code == 201, response.text

    page = session.get(f"{gateway}/todos?page_size=2", headers=HTML, timeout=10)

    assert f'href="{gateway}/todos?page=2&amp;page_size=2"' in page.text
    second = session.get(f"{gateway}/todos?page=2&page_size=2", headers=HTML, timeout=10)
    assert second.status_code == 200
    assert "one" in second.text


def test_a_cross_site_form_post_with_the_cookie_is_refused_and_writes_nothing(
    shared_suite: Suite,
) -> None:
    session, gateway, _ = browser_login(shared_suite)
    before = session.get(f"{gateway}/todos", timeout=10).json()["count"]

    forged = session.post(
        f"{gateway}/todos",
        data={"title": "forged"},
        headers={**HTML, "Origin": "http://evil.example"},
        timeout=10,
    )
    no_token = session.post(f"{gateway}/todos", data={"title": "forged"}, headers=HTML, timeout=10)

    assert (forged.status_code, no_token.status_code) == (403, 403)
    assert forged.json()["code"] == "csrf_failed"
    assert session.get(f"{gateway}/todos", timeout=10).json()["count"] == before


def test_an_expired_access_cookie_is_refreshed_with_user_service(shared_suite: Suite) -> None:
    session, gateway, _ = browser_login(shared_suite)
    old_refresh = session.cookies[REFRESH]
    session.cookies.clear(domain="127.0.0.1", path="/", name=ACCESS)  # as its Max-Age would

    response = session.get(f"{gateway}/todos", headers=HTML, timeout=10)

    assert response.status_code == 200
    assert session.cookies.get(ACCESS)
    assert session.cookies[REFRESH] != old_refresh
    used_up = requests.post(f"{gateway}/auth/refresh", json={"refresh": old_refresh}, timeout=10)
    assert used_up.status_code == 401  # refresh tokens rotate


def test_after_logout_the_old_cookies_are_a_401_that_leads_to_the_login_page(
    shared_suite: Suite,
) -> None:
    session, gateway, _ = browser_login(shared_suite)
    page = session.get(f"{gateway}/users/me", headers=HTML, timeout=10)
    old = {name: session.cookies[name] for name in (ACCESS, REFRESH, CSRF)}

    logout = session.post(
        f"{gateway}/auth/logout",
        data={"csrfmiddlewaretoken": form_token(page.text)},
        headers=HTML,
        timeout=10,
    )

    assert logout.status_code == 200  # followed to the login page
    assert logout.url == f"{gateway}/auth/login?logged_out=1"
    assert "You have logged out." in logout.text
    assert ACCESS not in session.cookies
    assert REFRESH not in session.cookies
    # the old cookies, sent again (kept by someone), are revoked: both tokens
    replay = requests.Session()
    for name, value in old.items():
        replay.cookies.set(name, value, domain="127.0.0.1", path="/")
    refused = replay.get(f"{gateway}/todos", headers=HTML, timeout=10)
    assert refused.status_code == 401
    assert 'id="login-form"' in refused.text
    assert 'name="next" value="/todos"' in refused.text
    as_bearer = requests.get(f"{gateway}/todos", headers=bearer(old[ACCESS]), timeout=10)
    assert as_bearer.status_code == 401
    refreshed = requests.post(f"{gateway}/auth/refresh", json={"refresh": old[REFRESH]}, timeout=10)
    assert refreshed.status_code == 401


def test_a_service_port_page_says_where_to_log_in(shared_suite: Suite) -> None:
    page = requests.get(shared_suite.url("todo-service", "/todos"), headers=HTML, timeout=10)

    assert page.status_code == 401
    login = shared_suite.url("api-gateway", "/auth/login")
    assert f'href="{login}?next=%2Ftodos"' in page.text
