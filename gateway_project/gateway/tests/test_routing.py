"""The route table: which service, public or not, and what is never routed."""

from __future__ import annotations

import pytest

from gateway import routing


@pytest.mark.parametrize(
    ("path", "service", "public"),
    [
        ("/auth/login", "user-service", True),
        ("/auth/login/", "user-service", True),
        ("/auth/register", "user-service", True),
        ("/auth/refresh", "user-service", True),
        ("/auth/logout", "user-service", False),
        ("/.well-known/jwks.json", "user-service", True),
        ("/users", "user-service", False),
        ("/users/me", "user-service", False),
        ("/users/deletions/0b7c6b1e-7f61-4c1e-9d3e-2f1a5c9e8d10", "user-service", True),
        ("/todos", "todo-service", False),
        ("/todos/", "todo-service", False),
        ("/todos/7/complete", "todo-service", False),
        ("/notifications/preferences", "notification-service", False),
    ],
)
def test_routes_follow_the_table(path: str, service: str, public: bool) -> None:
    route = routing.match(path)

    assert route is not None
    assert (route.service, route.public) == (service, public)


def test_only_the_login_path_gets_the_login_policy() -> None:
    assert routing.match("/auth/login/").login  # type: ignore[union-attr]
    assert not routing.match("/auth/register").login  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/todosx",
        "/no/such/path",
        "/internal/users/1/erase",
        "/internal/",
        "/todos/../internal/users/1",
        "/users/internal",
        # however the word or the path is dressed up (found by the e2e security tests)
        "/todos/../Internal/users/1/erase",
        "/users/../INTERNAL/users/1",
        "/todos/../internal;x/users/1",
        "/todos/../ internal/users/1",
        "/todos/internal\x00/users/1",
        "/users/..\\internal/users/1",
        # dot segments, which a service behind the gateway might resolve
        "/todos/../users/1",
        "/todos/./7",
    ],
)
def test_unknown_and_internal_paths_are_not_routed(path: str) -> None:
    assert routing.match(path) is None


def test_a_leading_dot_in_a_segment_is_not_a_dot_segment() -> None:
    route = routing.match("/.well-known/jwks.json")

    assert route is not None
    assert route.public
