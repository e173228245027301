"""The HTTP API, called with tokens signed like user-service's (servicekit's token_factory)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from notifications.models import Preference
from notifications.tests.support import make_notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client: Client, token_factory: Any) -> Client:
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token_factory.access(7, username='alice')}"
    return client


class TestNotifications:
    def test_the_list_has_only_the_callers_notifications_with_the_documented_fields(self, alice):
        mine = make_notification(7, status="sent", attempts=1)
        make_notification(8)

        response = alice.get("/notifications")

        assert response.status_code == 200
        body = response.json()
        assert (body["count"], body["next"], body["previous"]) == (1, None, None)
        [item] = body["results"]
        assert item == {
            "id": mine.id,
            "event_id": mine.event_id,
            "event_type": "todo.completed",
            "channel": "email",
            "recipient": "user7@example.com",
            "subject": mine.subject,
            "status": "sent",
            "attempts": 1,
            "created_at": item["created_at"],
            "sent_at": None,
        }

    def test_the_list_is_paginated_newest_first_with_page_size(self, alice):
        created = [make_notification(7) for _ in range(3)]

        response = alice.get("/notifications/?page_size=2")

        body = response.json()
        assert body["count"] == 3
        assert [item["id"] for item in body["results"]] == [created[2].id, created[1].id]
        assert "page=2" in body["next"]

    def test_a_page_and_a_notification_are_one_query_each(self, alice, django_assert_num_queries):
        # Hot routes: a page that shows the end of the list needs no COUNT(*).
        mine = [make_notification(7) for _ in range(3)]

        with django_assert_num_queries(1) as page_query:
            page = alice.get("/notifications").json()
        with django_assert_num_queries(1) as one_query:
            one = alice.get(f"/notifications/{mine[0].id}").json()

        assert (page["count"], len(page["results"])) == (3, 3)
        assert one["id"] == mine[0].id
        # and neither reads the event envelope, which the API does not show
        for queries in (page_query, one_query):
            assert '"envelope"' not in queries.captured_queries[0]["sql"]

    def test_one_notification_of_the_caller_is_readable(self, alice):
        mine = make_notification(7)

        response = alice.get(f"/notifications/{mine.id}")

        assert response.status_code == 200
        assert response.json()["id"] == mine.id

    def test_another_users_notification_is_a_404(self, alice):
        theirs = make_notification(8)

        response = alice.get(f"/notifications/{theirs.id}/")

        assert response.status_code == 404
        assert response.json()["code"] == "not_found"

    def test_without_a_token_the_answer_is_401_with_www_authenticate(self, client):
        response = client.get("/notifications")

        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")

    def test_a_service_token_is_not_a_user(self, client, token_factory):
        token = token_factory.service("todo-service")

        response = client.get("/notifications", HTTP_AUTHORIZATION=f"Bearer {token}")

        assert response.status_code == 403


class TestPreferences:
    def test_email_on_completed_todos_is_on_by_default(self, alice):
        response = alice.get("/notifications/preferences")

        assert response.status_code == 200
        assert response.json() == {"email_on_todo_completed": True}

    def test_patch_turns_it_off_for_the_caller_only(self, alice):
        response = alice.patch(
            "/notifications/preferences/",
            {"email_on_todo_completed": False},
            content_type="application/json",
        )

        assert response.status_code == 200
        assert response.json() == {"email_on_todo_completed": False}
        assert alice.get("/notifications/preferences").json() == {"email_on_todo_completed": False}
        assert list(Preference.objects.values_list("user_id", flat=True)) == [7]

    def test_a_value_that_is_not_a_boolean_is_a_400_naming_the_field(self, alice):
        response = alice.patch(
            "/notifications/preferences",
            {"email_on_todo_completed": "sometimes"},
            content_type="application/json",
        )

        assert response.status_code == 400
        assert "email_on_todo_completed" in response.json()


def test_the_openapi_schema_and_swagger_ui_are_served(client):
    schema = client.get("/schema", HTTP_ACCEPT="application/json")
    docs = client.get("/docs/")

    assert schema.status_code == 200
    assert "/notifications/preferences" in schema.json()["paths"]
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


def test_the_openapi_schema_is_valid_and_complete(tmp_path):
    # --fail-on-warn: every view resolves its serializer and auth scheme, no duplicate paths
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))

    assert "/notifications/{id}:" in (tmp_path / "s.yml").read_text()
