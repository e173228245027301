"""The browsable API as a person sees it: DRF's pages with HTML forms that work.

The pages are servicekit's (servicekit.browsable); what is checked here is what
todo-service adds: forms built from TodoInputSerializer, and form bodies that
create and complete todos like the JSON ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from todos.models import Todo
from todos.tests.support import ALICE

HTML = {"Accept": "text/html"}
GATEWAY_TOKEN = "a" * 32 + "b" * 32  # the shape of a Django CSRF token

pytestmark = pytest.mark.django_db


def test_the_list_page_offers_an_html_form_to_create_a_todo(alice: APIClient) -> None:
    page = alice.get("/todos", headers=HTML)

    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert 'id="post-object-form"' in html
    for field in ("title", "description", "completed", "priority", "due_date"):
        assert f'name="{field}"' in html


def test_a_form_body_creates_and_completes_a_todo(alice: APIClient) -> None:
    created = alice.post("/todos", {"title": "from a form", "priority": "high"}, format="multipart")
    assert created.status_code == 201, created.content
    todo_id = created.json()["id"]

    completed = alice.put(
        f"/todos/{todo_id}",
        "completed=true",
        content_type="application/x-www-form-urlencoded",
    )

    assert completed.status_code == 200, completed.content
    todo = Todo.objects.get(id=todo_id)
    assert (todo.title, todo.completed, todo.user_id) == ("from a form", True, ALICE)


def test_json_stays_strict_about_types(alice: APIClient) -> None:
    response = alice.post("/todos", {"title": "x", "completed": "true"}, format="json")

    assert response.status_code == 400
    assert "completed" in response.json()


def test_a_page_through_the_gateway_carries_its_csrf_token_and_a_log_out_button(
    alice: APIClient,
) -> None:
    page = alice.get("/todos", headers={**HTML, "X-Gateway-CSRF-Token": GATEWAY_TOKEN})

    html = page.content.decode()
    assert f'"csrfToken": "{GATEWAY_TOKEN}"' in html
    assert re.search(rf'name="csrfmiddlewaretoken" value="{GATEWAY_TOKEN}"', html)
    assert 'id="logout-form"' in html
    assert 'action="/auth/logout"' in html
    assert not page.cookies  # the service's own CSRF cookie is not set through the gateway


def test_a_page_on_the_service_port_has_no_log_out_button(alice: APIClient) -> None:
    html = alice.get("/todos", headers=HTML).content.decode()

    assert 'id="logout-form"' not in html
    assert GATEWAY_TOKEN not in html


def test_the_401_page_on_the_service_port_says_where_to_log_in(
    api_as: Callable[[int], APIClient],
) -> None:
    page = APIClient().get("/todos?page=2", headers=HTML)

    assert page.status_code == 401
    html = page.content.decode()
    assert "People log in through the gateway" in html
    assert 'href="http://127.0.0.1:8080/auth/login?next=%2Ftodos%3Fpage%3D2"' in html
