"""The saga console in the admin: list, step timeline, and the operator's actions."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts import deletion
from sagas.models import Saga
from sagas.tests.dsl import SagaScenario

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client: Client, make_user) -> Client:
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def failed_saga(make_user, http_peers, settings) -> SagaScenario:
    scenario = SagaScenario(user=make_user("alice"), http_peers=http_peers, settings=settings)
    return scenario.given("notification-service", "erase", 409).when_the_account_is_deleted()


def test_the_changelist_filters_sagas_by_status(staff: Client, failed_saga) -> None:
    page = staff.get("/admin/sagas/saga/", {"status__exact": "failed"})

    assert page.status_code == 200
    assert str(failed_saga.current.pk).encode() in page.content
    assert (
        staff.get("/admin/sagas/saga/", {"status__exact": "completed"}).context["cl"].result_count
        == 0
    )


def test_a_saga_page_shows_the_step_timeline_with_errors(staff: Client, failed_saga) -> None:
    page = staff.get(f"/admin/sagas/saga/{failed_saga.current.pk}/change/")

    assert page.status_code == 200
    text = page.content.decode()
    for name in ("lock_account", "erase_notifications", "restore_todos", "unlock_account"):
        assert name in text
    assert "notification-service says 409" in text


def test_compensate_action_on_a_waiting_saga(staff: Client, make_user, http_peers, settings):
    scenario = SagaScenario(user=make_user("alice"), http_peers=http_peers, settings=settings)
    scenario.given("todo-service", "erase", 503, 503, 503)
    scenario.saga, _ = deletion.start_account_deletion(user=scenario.user)
    scenario.run_once()

    response = staff.post(
        "/admin/sagas/saga/",
        {"action": "compensate", "_selected_action": [str(scenario.saga.pk)]},
        follow=True,
    )

    assert "1 saga(s) set to compensate." in response.content.decode()
    scenario.when_the_worker_runs().expect_status("failed")


def test_retry_action_skips_finished_sagas(staff: Client, failed_saga) -> None:
    response = staff.post(
        "/admin/sagas/saga/",
        {"action": "retry_step", "_selected_action": [str(failed_saga.current.pk)]},
        follow=True,
    )

    assert "1 saga(s) skipped: not running any more." in response.content.decode()
    assert Saga.objects.get().status == "failed"


def test_sagas_cannot_be_added_or_edited_by_hand(staff: Client, failed_saga) -> None:
    assert staff.get("/admin/sagas/saga/add/").status_code == 403
    response = staff.post(
        f"/admin/sagas/saga/{failed_saga.current.pk}/change/", {"status": "completed"}
    )
    assert response.status_code == 403
    assert Saga.objects.get().status == "failed"


def test_a_running_saga_cannot_be_deleted_a_finished_one_can(
    staff: Client, make_user, http_peers, settings, failed_saga
) -> None:
    running, _ = deletion.start_account_deletion(user=make_user("bob"))

    assert staff.get(f"/admin/sagas/saga/{running.pk}/delete/").status_code == 403
    assert staff.get(f"/admin/sagas/saga/{failed_saga.current.pk}/delete/").status_code == 200
