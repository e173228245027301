"""optional_slash(): a route answers with and without a trailing slash, never redirecting."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import resolve, reverse

from servicekit import health
from servicekit.urls import optional_slash


def view() -> None:  # only resolved, never called
    raise AssertionError


@pytest.mark.parametrize("route", ["todos", "todos/"])
def test_optional_slash_makes_both_routes_with_the_name_on_the_first(route: str) -> None:
    patterns = optional_slash(route, view, name="todos")

    assert [str(p.pattern) for p in patterns] == ["todos", "todos/"]
    assert [p.callback for p in patterns] == [view, view]
    assert [p.name for p in patterns] == ["todos", None]


@pytest.mark.parametrize(
    ("path", "view_func"),
    [
        ("/health", health.health),
        ("/health/", health.health),
        ("/health/ready", health.ready),
        ("/health/ready/", health.ready),
    ],
)
def test_health_paths_resolve_with_and_without_slash(path: str, view_func: object) -> None:
    assert resolve(path).func is view_func


@pytest.mark.parametrize("path", ["/errors/field", "/errors/field/", "/echo", "/echo/"])
def test_both_spellings_answer_without_a_redirect(client: Client, path: str) -> None:
    response = client.get(path)

    # /errors/field answers 400 from its view, /echo 405 (POST only): no 301 either way.
    assert response.status_code in (400, 405)
    assert "Location" not in response


@pytest.mark.parametrize(
    ("name", "path"), [("health", "/health"), ("health-ready", "/health/ready"), ("echo", "/echo")]
)
def test_reversing_a_name_gives_the_path_without_slash(name: str, path: str) -> None:
    assert reverse(name) == path
