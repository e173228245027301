"""todo-service through its own port: a real gunicorn, real tokens, docs/spec/api.md, "Todos".

The tokens are signed by a test key whose JWKS this test serves over HTTP;
todo-service fetches it through ``JWKS_URL`` exactly as it fetches
user-service's ``/.well-known/jwks.json``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from servicekit.testing import TokenFactory

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def tokens() -> TokenFactory:
    return TokenFactory(kid="e2e-todo-key")


@pytest.fixture(scope="module")
def jwks_url(tokens: TokenFactory) -> Iterator[str]:
    body = json.dumps(tokens.jwks()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


def test_the_todo_api_through_the_services_own_port(make_suite, tokens, jwks_url) -> None:  # type: ignore[no-untyped-def]
    suite = make_suite(JWKS_URL=jwks_url)
    suite.up()
    base = suite.url("todo-service", "")
    alice = {"Authorization": f"Bearer {tokens.access(7, username='alice')}"}
    bob = {"Authorization": f"Bearer {tokens.access(8, username='bob')}"}

    def call(method: str, path: str, headers: dict[str, str], **kwargs) -> requests.Response:  # type: ignore[no-untyped-def]
        return requests.request(method, base + path, headers=headers, timeout=10, **kwargs)

    # without a token: 401 with WWW-Authenticate
    anonymous = call("GET", "/todos", {})
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")

    # create, with an Idempotency-Key repeated
    keyed = {**alice, "Idempotency-Key": "e2e-1"}
    created = call("POST", "/todos", keyed, json={"title": "buy milk", "priority": "high"})
    repeated = call("POST", "/todos/", keyed, json={"title": "buy milk", "priority": "high"})
    other_body = call("POST", "/todos", keyed, json={"title": "buy bread"})
    assert created.status_code == 201, created.text
    assert repeated.status_code == 201
    assert repeated.json()["id"] == created.json()["id"]
    assert other_body.status_code == 422
    todo_id = created.json()["id"]

    # bad input: 400 naming the field, nothing written
    too_long = call("POST", "/todos", alice, json={"title": "x" * 201})
    malformed = call("POST", "/todos", {**alice, "Content-Type": "application/json"}, data="{nope")
    assert too_long.status_code == 400
    assert "title" in too_long.json()
    assert malformed.status_code == 400

    # list, filters, stats
    listed = call("GET", "/todos?priority=high&completed=false", alice).json()
    assert [t["id"] for t in listed["results"]] == [todo_id]
    assert listed["count"] == 1

    # bob cannot see or touch alice's todo: 404 on every method
    for method, path in [
        ("GET", f"/todos/{todo_id}"),
        ("PATCH", f"/todos/{todo_id}"),
        ("PUT", f"/todos/{todo_id}"),
        ("DELETE", f"/todos/{todo_id}"),
        ("POST", f"/todos/{todo_id}/complete"),
        ("PUT", f"/todos/{todo_id}/complete"),
    ]:
        response = call(method, path, bob, json={"title": "pwned"})
        assert response.status_code == 404, (method, path, response.text)

    # complete twice: 200 both times, completed_at unchanged
    first = call("POST", f"/todos/{todo_id}/complete", alice)
    second = call("PUT", f"/todos/{todo_id}/complete/", alice)
    assert first.status_code == second.status_code == 200
    assert second.json()["completed_at"] == first.json()["completed_at"]
    assert call("GET", "/todos/stats", alice).json() == {
        "total_todos": 1,
        "completed_todos": 1,
        "pending_todos": 0,
        "high_priority_todos": 1,
    }

    # delete
    assert call("DELETE", f"/todos/{todo_id}", alice).status_code == 204
    assert call("GET", f"/todos/{todo_id}", alice).status_code == 404
