"""The user admin: search, and the lock/unlock actions."""

from __future__ import annotations

import pytest
from django.test import Client
from servicekit import tokens

from accounts.models import User
from accounts.tests.fixtures import MakeUser

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client: Client, make_user: MakeUser) -> Client:
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def test_the_changelist_searches_by_username_and_email(
    admin_client_: Client, make_user: MakeUser
) -> None:
    make_user("alice", email="alice@wonderland.example")
    make_user("bob")

    page = admin_client_.get("/admin/accounts/user/", {"q": "wonderland"})

    assert page.status_code == 200
    assert b"alice" in page.content
    assert b">bob<" not in page.content


def test_the_lock_action_locks_and_revokes_tokens(
    admin_client_: Client, make_user: MakeUser, login
) -> None:
    alice = make_user("alice")
    access = login()["access"]

    response = admin_client_.post(
        "/admin/accounts/user/",
        {"action": "lock_accounts", "_selected_action": [alice.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert b"Locked 1 account(s)." in response.content
    assert User.objects.get(pk=alice.pk).is_locked
    with pytest.raises(tokens.InvalidToken, match="revoked"):
        tokens.verify(access)


def test_the_unlock_action_lets_the_user_log_in_again(
    admin_client_: Client, make_user: MakeUser
) -> None:
    alice = make_user("alice", is_active=False)

    admin_client_.post(
        "/admin/accounts/user/", {"action": "unlock_accounts", "_selected_action": [alice.pk]}
    )

    assert User.objects.get(pk=alice.pk).is_active
