"""The tasks' retry policy and the admin's re-send, run eagerly against a real SMTP server.

(``apply()`` runs a task and its retries in this process, without waiting for
the backoff; ``test_worker.py`` runs the same tasks in a real worker.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from config.celery import app
from notifications import services, tasks
from notifications.models import Notification


@contextmanager
def _eager_tasks() -> Iterator[None]:
    """``.delay()`` runs the task here and now (for the admin's re-send)."""
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("user_service")]


def test_retry_policy_is_exponential_backoff_with_jitter_below_the_visibility_timeout(settings):
    task = tasks.handle_event

    assert task.retry_backoff == 1
    assert task.retry_jitter is True
    assert task.max_retries == settings.NOTIFICATION_MAX_RETRIES
    assert task.retry_backoff_max < settings.CELERY_VISIBILITY_TIMEOUT
    assert (task.acks_late, task.reject_on_worker_lost) == (True, True)
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.accept_content == ["json"]


def test_smtp_refusing_is_retried_then_failed_and_the_admin_resend_delivers_it(
    monkeypatch, smtp_sink, todo_completed, admin_client, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(tasks.handle_event, "max_retries", 2)
    smtp_sink.stop()

    # when: the mail server refuses every attempt
    result = tasks.handle_event.apply(args=[todo_completed()])

    # then: three attempts (the first and two retries), then failed with the last error
    assert result.failed()
    notification = Notification.objects.get()
    assert notification.status == Notification.Status.FAILED
    assert notification.attempts == 3
    assert "Connection refused" in notification.last_error

    # when: the mail server is back and an operator re-sends it from the admin
    smtp_sink.start()
    with _eager_tasks(), django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/notifications/notification/",
            {"action": "resend", "_selected_action": [notification.id]},
            follow=True,
        )

    # then
    assert b"1 notification(s) queued for delivery." in response.content
    [message] = smtp_sink.received()
    assert message["Message-ID"] == notification.message_id
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 4)


def test_an_attempt_stopped_by_the_soft_time_limit_is_tried_again(
    monkeypatch, smtp_sink, todo_completed
):
    # given a first attempt that runs past CELERY_TASK_SOFT_TIME_LIMIT (Celery raises
    # SoftTimeLimitExceeded inside the task; here it is raised where a hung call would be)
    handle = services.event_handle
    attempts: list[int] = []

    def hangs_once(*, envelope):
        attempts.append(1)
        if len(attempts) == 1:
            raise SoftTimeLimitExceeded()
        return handle(envelope=envelope)

    monkeypatch.setattr(services, "event_handle", hangs_once)

    # when
    result = tasks.handle_event.apply(args=[todo_completed()])

    # then the retry delivered it, once
    assert result.successful()
    assert len(attempts) == 2
    assert Notification.objects.get().status == Notification.Status.SENT
    assert len(smtp_sink.received()) == 1


def test_the_resend_queues_the_delivery_task_by_name_on_the_workers_queue(settings):
    route = app.amqp.router.route({}, services.DELIVER_TASK, (1,), {})

    assert tasks.deliver.name == services.DELIVER_TASK == "notification.deliver"
    assert route["queue"].name == settings.NOTIFICATION_QUEUE


def test_resend_leaves_notifications_that_did_not_fail_alone(
    smtp_sink, todo_completed, admin_client
):
    tasks.handle_event.apply(args=[todo_completed()])
    sent = Notification.objects.get()

    response = admin_client.post(
        "/admin/notifications/notification/",
        {"action": "resend", "_selected_action": [sent.id]},
        follow=True,
    )

    assert b"were not failed and were left alone" in response.content
    assert len(smtp_sink.received()) == 1


def test_the_admin_lists_notifications_with_counts_by_status_and_processed_events(
    admin_client, smtp_sink, todo_completed
):
    tasks.handle_event.apply(args=[todo_completed()])
    tasks.handle_event.apply(args=[{"not": "an event"}])

    notifications = admin_client.get("/admin/notifications/notification/")
    events = admin_client.get("/admin/notifications/processedevent/")

    assert notifications.status_code == 200
    assert b"Sent (1)" in notifications.content
    assert events.status_code == 200
    assert b"Failed (1)" in events.content
