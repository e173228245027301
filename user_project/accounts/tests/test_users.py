"""/users, /users/me, /users/{id} (docs/spec/api.md, "Users")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.fixtures import MakeUser

pytestmark = pytest.mark.django_db

Login = Callable[..., dict[str, Any]]


@pytest.fixture
def as_alice(api: APIClient, make_user: MakeUser, login: Login) -> APIClient:
    make_user("alice")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {login('alice')['access']}")
    return api


@pytest.mark.parametrize("path", ["/users", "/users/me", "/users/1"])
def test_user_endpoints_need_a_token(api: APIClient, path: str) -> None:
    response = api.get(path)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] == "not_authenticated"


def test_a_non_staff_user_sees_only_themselves(as_alice: APIClient, make_user: MakeUser) -> None:
    make_user("bob")

    response = as_alice.get("/users")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert [u["username"] for u in body["results"]] == ["alice"]
    assert body["next"] is None
    assert body["previous"] is None


def test_staff_see_every_user_a_page_at_a_time(
    api: APIClient, make_user: MakeUser, login: Login
) -> None:
    make_user("admin", is_staff=True)
    for index in range(4):
        make_user(f"user{index}")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {login('admin')['access']}")

    response = api.get("/users/", {"page_size": 2, "page": 2})

    body = response.json()
    assert response.status_code == 200
    assert body["count"] == 5
    assert [u["username"] for u in body["results"]] == ["user1", "user2"]
    assert body["next"]
    assert body["previous"]


def test_me_shows_the_documented_fields(as_alice: APIClient) -> None:
    response = as_alice.get("/users/me/")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "username", "email", "date_joined", "is_staff"}
    assert (body["username"], body["email"], body["is_staff"]) == (
        "alice",
        "alice@example.com",
        False,
    )


def test_patch_me_changes_the_email_only(as_alice: APIClient) -> None:
    response = as_alice.patch(
        "/users/me",
        {"email": "new@example.com", "username": "root", "is_staff": True, "id": 999},
    )

    assert response.status_code == 200
    assert response.json()["email"] == "new@example.com"
    user = User.objects.get(username="alice")
    assert (user.email, user.is_staff, user.pk != 999) == ("new@example.com", False, True)
    assert not User.objects.filter(username="root").exists()


def test_patch_me_with_an_invalid_email_is_400(as_alice: APIClient) -> None:
    response = as_alice.patch("/users/me", {"email": "nope"})

    assert response.status_code == 400
    assert "email" in response.json()
    assert User.objects.get(username="alice").email == "alice@example.com"


def test_put_and_delete_on_me_are_not_allowed_here(as_alice: APIClient) -> None:
    assert as_alice.put("/users/me", {"email": "x@example.com"}).status_code == 405


def test_another_users_account_is_404(as_alice: APIClient, make_user: MakeUser) -> None:
    bob = make_user("bob")

    response = as_alice.get(f"/users/{bob.pk}")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_own_account_by_id(as_alice: APIClient) -> None:
    alice = User.objects.get(username="alice")

    response = as_alice.get(f"/users/{alice.pk}/")

    assert response.status_code == 200
    assert response.json()["username"] == "alice"


def test_staff_may_read_any_account(api: APIClient, make_user: MakeUser, login: Login) -> None:
    make_user("admin", is_staff=True)
    bob = make_user("bob")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {login('admin')['access']}")

    assert api.get(f"/users/{bob.pk}").json()["username"] == "bob"
    assert api.get("/users/999999").status_code == 404


def test_a_deleted_users_token_stops_working(as_alice: APIClient) -> None:
    User.objects.filter(username="alice").delete()

    response = as_alice.get("/users/me")

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_me_is_one_query(as_alice: APIClient, django_assert_num_queries: Any) -> None:
    # A hot route: the account read once (the token is checked without the database).
    with django_assert_num_queries(1):
        response = as_alice.get("/users/me")

    assert response.json()["username"] == "alice"
