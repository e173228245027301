"""The event handling services against a real SMTP server and an HTTP user-service peer."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone
from servicekit.events import build_envelope

from notifications import services
from notifications.events import parse
from notifications.integrations import users
from notifications.models import Notification, ProcessedEvent
from notifications.tests.conftest import OWNER_EMAIL, OWNER_ID

pytestmark = pytest.mark.usefixtures("smtp_sink", "user_service")


@pytest.mark.django_db
class TestCompletedTodo:
    def test_sends_one_email_to_the_owner_with_the_title_in_the_subject(
        self, smtp_sink, todo_completed
    ):
        envelope = todo_completed(title="buy milk & eggs")

        services.event_handle(envelope=envelope)

        [message] = smtp_sink.received()
        assert message["To"] == OWNER_EMAIL
        assert message["Subject"] == "Todo completed: buy milk & eggs"
        assert message["Message-ID"] == f"<{envelope['id']}@notification-service>"
        assert 'You completed "buy milk & eggs"' in message.get_body(("plain",)).get_content()
        assert "<strong>buy milk &amp; eggs</strong>" in message.get_body(("html",)).get_content()
        notification = Notification.objects.get()
        assert notification.status == Notification.Status.SENT
        assert (notification.user_id, notification.recipient) == (OWNER_ID, OWNER_EMAIL)
        assert notification.attempts == 1
        assert notification.sent_at is not None

    def test_an_event_is_handled_in_a_fixed_number_of_queries_and_returns_the_row_as_stored(
        self, smtp_sink, todo_completed, django_assert_num_queries
    ):
        # The worker's hot path: a regression here is CPU on every event.
        envelope = todo_completed()
        services.event_handle(envelope=todo_completed())  # the preference row exists now

        with django_assert_num_queries(9):
            returned = services.event_handle(envelope=envelope)

        stored = Notification.objects.get(event_id=envelope["id"])
        assert isinstance(returned, Notification)
        assert returned.status == stored.status == Notification.Status.SENT
        fields = ("recipient", "attempts", "claimed_at", "sent_at", "last_error")
        assert [getattr(returned, f) for f in fields] == [getattr(stored, f) for f in fields]
        assert len(smtp_sink.received()) == 2

    def test_emails_share_one_smtp_session_and_a_dropped_one_is_replaced(
        self, smtp_sink, todo_completed
    ):
        for title in ("one", "two", "three"):
            services.event_handle(envelope=todo_completed(title=title))
        assert len(smtp_sink.received()) == 3
        assert len(smtp_sink.sessions) == 1, "each email opened its own SMTP session"

        # The mail server restarts: the kept session is gone. The email that finds
        # out is deferred to the task's retry, which opens a new session.
        smtp_sink.stop()
        smtp_sink.start()
        envelope = todo_completed(title="after the restart")
        with pytest.raises(services.DeliveryDeferred):
            services.event_handle(envelope=envelope)
        services.event_handle(envelope=envelope)

        assert [m["Subject"] for m in smtp_sink.received()][
            -1
        ] == "Todo completed: after the restart"
        assert len(smtp_sink.received()) == 4
        assert len(smtp_sink.sessions) == 2

    def test_the_same_envelope_delivered_twice_sends_one_email(self, smtp_sink, todo_completed):
        envelope = todo_completed()

        services.event_handle(envelope=envelope)
        services.event_handle(envelope=envelope)

        assert len(smtp_sink.received()) == 1
        assert Notification.objects.get().attempts == 1

    def test_a_user_who_opted_out_gets_no_email_and_a_skipped_record(
        self, smtp_sink, todo_completed
    ):
        services.preference_update(user_id=OWNER_ID, email_on_todo_completed=False)

        services.event_handle(envelope=todo_completed())

        assert smtp_sink.received() == []
        assert Notification.objects.get().status == Notification.Status.SKIPPED

    def test_an_inactive_user_is_skipped(self, smtp_sink, user_service, todo_completed):
        user_service.add_user(8, "gone@example.com", is_active=False)

        services.event_handle(envelope=todo_completed(user_id=8))

        assert smtp_sink.received() == []
        assert Notification.objects.get().status == Notification.Status.SKIPPED

    def test_a_user_unknown_to_user_service_fails_without_retry(self, smtp_sink, todo_completed):
        services.event_handle(envelope=todo_completed(user_id=404))

        notification = Notification.objects.get()
        assert notification.status == Notification.Status.FAILED
        assert "user 404 does not exist" in notification.last_error
        assert smtp_sink.received() == []

    def test_an_older_version_of_a_todo_after_a_newer_one_is_ignored(
        self, smtp_sink, todo_completed
    ):
        services.event_handle(envelope=todo_completed(todo_id=5, version=4))

        services.event_handle(envelope=todo_completed(todo_id=5, version=2))

        assert len(smtp_sink.received()) == 1
        assert ProcessedEvent.objects.get().reason.startswith("stale")


@pytest.mark.django_db
class TestOtherEvents:
    def test_user_registered_sends_a_welcome_email_to_the_new_address(self, smtp_sink):
        envelope = build_envelope(
            event_type="user.registered",
            source="user-service",
            subject="users/9",
            data={"user_id": 9, "username": "bob", "email": "bob@example.com"},
        )

        services.event_handle(envelope=envelope)

        [message] = smtp_sink.received()
        assert (message["To"], message["Subject"]) == ("bob@example.com", "Welcome to Todo, bob")
        assert Notification.objects.get(user_id=9).status == Notification.Status.SENT

    def test_an_unknown_type_is_acknowledged_and_recorded_as_ignored(self, smtp_sink):
        envelope = build_envelope(
            event_type="todo.deleted",
            source="todo-service",
            subject="todos/3",
            data={"todo_id": 3, "user_id": OWNER_ID},
        )

        services.event_handle(envelope=envelope)

        processed = ProcessedEvent.objects.get()
        assert (processed.event_id, processed.outcome) == (envelope["id"], "ignored")
        assert not Notification.objects.exists()
        assert smtp_sink.received() == []

    @pytest.mark.parametrize(
        ("breakage", "reason"),
        [
            (lambda e: e["data"].pop("title"), "'title' is a required property"),
            (lambda e: e.pop("id"), "'id' is a required property"),
            (lambda e: e["data"].update(user_id="seven"), "'seven' is not of type 'integer'"),
        ],
    )
    def test_a_schema_invalid_envelope_ends_as_failed_with_the_reason(
        self, smtp_sink, todo_completed, breakage, reason
    ):
        envelope = todo_completed()
        breakage(envelope)

        services.event_handle(envelope=envelope)
        services.event_handle(envelope=envelope)

        processed = ProcessedEvent.objects.get()
        assert processed.outcome == "failed"
        assert reason in processed.reason
        assert smtp_sink.received() == []

    def test_a_message_that_is_not_even_an_object_is_recorded_as_failed(self):
        services.event_handle(envelope="not an envelope")

        assert ProcessedEvent.objects.get().outcome == "failed"


@pytest.mark.django_db
class TestFailures:
    def test_smtp_refusing_defers_and_keeps_the_notification_pending(
        self, smtp_sink, todo_completed
    ):
        smtp_sink.stop()

        with pytest.raises(services.DeliveryDeferred):
            services.event_handle(envelope=todo_completed())

        notification = Notification.objects.get()
        assert notification.status == Notification.Status.PENDING
        assert "Connection refused" in notification.last_error
        assert notification.attempts == 1

    def test_user_service_down_defers_opens_the_breaker_and_delivers_once_it_is_back(
        self, settings, smtp_sink, user_service, todo_completed, caplog
    ):
        settings.SERVICEKIT = {
            **settings.SERVICEKIT,
            "HTTP_BREAKER_FAIL_MAX": 2,
            "HTTP_BREAKER_RESET_SECONDS": 0.2,
        }
        users.reset()
        services.event_handle(envelope=todo_completed(user_id=404))  # the service token is cached
        envelope = todo_completed()
        user_service.stop()

        for _ in range(3):
            with caplog.at_level(logging.WARNING), pytest.raises(services.DeliveryDeferred):
                services.event_handle(envelope=envelope)

        notification = Notification.objects.get(event_id=envelope["id"])
        assert "circuit breaker open" in notification.last_error
        assert any(
            record.message == "breaker_state_changed" and record.to_state == "open"
            for record in caplog.records
        )
        user_service.start()
        time.sleep(0.2)  # the breaker's reset timeout: it lets a trial call through

        services.event_handle(envelope=envelope)

        assert len(smtp_sink.received()) == 1
        assert Notification.objects.get(event_id=envelope["id"]).status == "sent"

    def test_a_claim_left_by_a_dead_worker_is_taken_over_after_its_lease(
        self, smtp_sink, todo_completed
    ):
        # given: a worker claimed the notification and died while sending
        envelope = todo_completed()
        services.notification_record(event=parse(envelope), envelope=envelope)
        _claimed(envelope, minutes_ago=0)

        # when: the redelivery comes while the lease runs, it waits (retries later)
        with pytest.raises(services.DeliveryDeferred, match="another worker"):
            services.event_handle(envelope=envelope)
        assert smtp_sink.received() == []

        # when: it comes after the lease ran out, it sends
        _claimed(envelope, minutes_ago=10)
        services.event_handle(envelope=envelope)

        assert len(smtp_sink.received()) == 1
        assert Notification.objects.get().status == Notification.Status.SENT


@pytest.mark.django_db(transaction=True)
def test_five_concurrent_deliveries_of_one_event_give_one_record_and_one_email(
    smtp_sink, todo_completed
):
    envelope = todo_completed()
    start = threading.Barrier(5)
    errors: list[BaseException] = []

    def deliver() -> None:
        """One delivery, retried on transient errors as the task's autoretry would."""
        start.wait()
        try:
            for _ in range(100):
                try:
                    services.event_handle(envelope=envelope)
                    return
                except (services.DeliveryDeferred, OperationalError):
                    # Another delivery holds the claim (or SQLite's write lock).
                    time.sleep(0.05)
            errors.append(AssertionError("still deferred after 100 tries"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Notification.objects.count() == 1
    assert len(smtp_sink.received()) == 1
    assert Notification.objects.get().status == Notification.Status.SENT


def _claimed(envelope, *, minutes_ago: int) -> None:
    Notification.objects.filter(event_id=envelope["id"]).update(
        status=Notification.Status.SENDING,
        claimed_at=timezone.now() - timedelta(minutes=minutes_ago),
    )
