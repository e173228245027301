"""The account-deletion saga, step by step: given participant replies, expect these calls."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from accounts import deletion
from accounts.models import User
from accounts.tests.fixtures import PASSWORD, bearer
from sagas import engine
from sagas.models import Saga, SagaStep
from sagas.tests.dsl import SagaScenario, slow

pytestmark = pytest.mark.django_db

COMPLETED_STEPS = (
    ("lock_account", "succeeded"),
    ("erase_todos", "succeeded"),
    ("erase_notifications", "succeeded"),
    ("delete_account", "succeeded"),
    ("purge_todos", "succeeded"),
    ("purge_notifications", "succeeded"),
)


def sagas_finished(outcome: str) -> float:
    """``sagas_finished_total`` for account deletions with this outcome, as /metrics shows it."""
    labels = {"kind": "account_deletion", "outcome": outcome}
    return REGISTRY.get_sample_value("sagas_finished_total", labels) or 0.0


@pytest.fixture
def scenario(make_user, http_peers, settings) -> SagaScenario:
    settings.SAGA_RETRY_BUDGET_SECONDS = 60
    settings.SAGA_HTTP_READ_TIMEOUT = 0.5
    return SagaScenario(user=make_user("alice"), http_peers=http_peers, settings=settings)


def test_every_participant_erases_then_the_account_goes_and_they_purge(scenario) -> None:
    completed = sagas_finished("completed")
    (
        scenario.when_the_account_is_deleted()
        .expect_calls(
            "todo-service erase",
            "notification-service erase",
            "todo-service purge",
            "notification-service purge",
        )
        .expect_status("completed")
        .expect_steps(*COMPLETED_STEPS)
    )
    assert not User.objects.filter(username="alice").exists()
    assert scenario.current.finished_at is not None
    assert sagas_finished("completed") == completed + 1


def test_each_call_carries_the_saga_id_and_a_service_token(scenario) -> None:
    scenario.when_the_account_is_deleted()

    saga_id = str(scenario.current.pk)
    received = scenario.peers["todo-service"].requests[0]
    assert received.method == "POST"
    assert received.path == f"/internal/users/{scenario.user.pk}/erase"
    assert received.body == {"saga_id": saga_id}
    assert received.headers["Authorization"].startswith("Bearer ")
    assert received.headers["Idempotency-Key"] == f"saga-{saga_id}-erase"


def test_a_refused_step_compensates_in_reverse_order_and_the_account_is_usable(
    scenario, api, login
) -> None:
    failed = sagas_finished("failed")
    (
        scenario.given("notification-service", "erase", 409)
        .when_the_account_is_deleted()
        .expect_calls(
            "todo-service erase",
            "notification-service erase",
            # the refused call reached the participant: it is undone too (a no-op there)
            "notification-service restore",
            "todo-service restore",
        )
        .expect_status("failed")
        .expect_steps(
            ("lock_account", "succeeded"),
            ("erase_todos", "succeeded"),
            ("erase_notifications", "failed"),
            ("delete_account", "skipped"),
            ("purge_todos", "skipped"),
            ("purge_notifications", "skipped"),
            ("restore_notifications", "succeeded"),
            ("restore_todos", "succeeded"),
            ("unlock_account", "succeeded"),
        )
    )
    assert "erase_notifications failed (refused)" in scenario.current.reason
    assert "409" in scenario.current.reason
    assert login("alice")["access"]  # the account works again
    assert sagas_finished("failed") == failed + 1


def test_a_participant_down_past_the_budget_is_not_asked_to_undo_what_it_never_got(
    scenario, settings, login
) -> None:
    settings.SAGA_RETRY_BUDGET_SECONDS = 0
    (
        scenario.given_down("todo-service")
        .when_the_account_is_deleted()
        .expect_calls()  # refused connections: nothing reached anyone
        .expect_status("failed")
        .expect_steps(
            ("lock_account", "succeeded"),
            ("erase_todos", "failed"),
            ("erase_notifications", "skipped"),
            ("delete_account", "skipped"),
            ("purge_todos", "skipped"),
            ("purge_notifications", "skipped"),
            ("unlock_account", "succeeded"),
        )
    )
    assert "erase_todos failed (out of retry budget)" in scenario.current.reason
    assert "refused" in scenario.step("erase_todos").last_error
    assert login("alice")["access"]


def test_a_timed_out_step_may_have_happened_so_it_is_undone(scenario, settings) -> None:
    settings.SAGA_RETRY_BUDGET_SECONDS = 0
    (
        scenario.given("todo-service", "erase", slow(1.5))
        .when_the_account_is_deleted()
        .expect_calls("todo-service erase", "todo-service restore")
        .expect_status("failed")
    )
    assert scenario.step("erase_todos").reached


def test_a_failing_participant_is_retried_within_the_budget(scenario) -> None:
    # the shared client tries 3 times per attempt; the second attempt succeeds
    scenario.given("todo-service", "erase", 503, 503, 503)
    scenario.saga, _ = deletion.start_account_deletion(user=scenario.user)

    scenario.run_once()

    waiting = scenario.current
    assert waiting.status == "running"
    assert waiting.next_attempt_at > timezone.now()  # backoff before the next attempt
    assert scenario.step("erase_todos").status == "pending"
    assert "503" in scenario.step("erase_todos").last_error
    (
        scenario.when_the_worker_runs()
        .expect_calls(
            *["todo-service erase"] * 4,
            "notification-service erase",
            "todo-service purge",
            "notification-service purge",
        )
        .expect_status("completed")
    )
    assert scenario.step("erase_todos").attempts == 2


def test_while_the_saga_runs_the_account_is_locked_and_its_tokens_revoked(
    scenario, api, login
) -> None:
    tokens = login("alice")
    scenario.given("notification-service", "erase", 503, 503, 503)
    scenario.saga, _ = deletion.start_account_deletion(user=scenario.user)

    scenario.run_once()  # locked, todos erased, notifications waiting for a retry

    assert api.get("/users/me", headers=bearer(tokens["access"])).status_code == 401
    refreshed = api.post("/auth/refresh", {"refresh": tokens["refresh"]})
    assert refreshed.status_code == 401
    refused = api.post("/auth/login", {"username": "alice", "password": PASSWORD})
    assert refused.status_code == 401
    assert refused.json()["code"] == "account_locked"


def test_after_the_pivot_a_failing_purge_is_retried_however_long_it_takes(
    scenario, settings
) -> None:
    settings.SAGA_RETRY_BUDGET_SECONDS = 0  # no budget matters past the pivot
    scenario.given("todo-service", "purge", 503, 503, 503)
    scenario.saga, _ = deletion.start_account_deletion(user=scenario.user)

    scenario.run_once()

    assert scenario.current.status == "running"
    assert scenario.step("purge_todos").status == "pending"
    assert not User.objects.filter(pk=scenario.user.pk).exists()
    scenario.when_the_worker_runs().expect_status("completed")


def test_a_purge_refused_for_good_waits_for_an_operator(scenario) -> None:
    scenario.given("notification-service", "purge", 409).when_the_account_is_deleted()

    saga = scenario.current
    assert saga.status == "running"
    assert saga.waits_for_operator
    assert scenario.step("purge_notifications").status == "failed"

    # the operator fixed the cause and retries the step from the admin
    assert engine.retry_now(saga)
    scenario.when_the_worker_runs().expect_status("completed")


def test_a_crashed_worker_leaves_the_saga_to_the_next_one_at_the_interrupted_step(
    scenario,
) -> None:
    saga, _ = deletion.start_account_deletion(user=scenario.user)
    scenario.saga = saga
    # a worker locked the account, then died while calling todo-service
    SagaStep.objects.filter(saga=saga, name="lock_account").update(status="succeeded")
    User.objects.filter(pk=scenario.user.pk).update(is_active=False)
    SagaStep.objects.filter(saga=saga, name="erase_todos").update(status="running", attempts=1)
    Saga.objects.filter(pk=saga.pk).update(
        lease_owner="dead-worker", lease_expires_at=timezone.now() + timedelta(seconds=30)
    )

    # while its lease holds, nobody else touches the saga
    assert engine.advance(saga.pk) is None
    assert scenario.calls == []

    Saga.objects.filter(pk=saga.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    (
        scenario.when_the_worker_runs()
        .expect_calls(
            "todo-service erase",  # repeated: idempotent by saga id at todo-service
            "notification-service erase",
            "todo-service purge",
            "notification-service purge",
        )
        .expect_status("completed")
    )
    assert scenario.step("erase_todos").attempts == 2


def test_an_operator_can_compensate_a_saga_before_the_pivot_but_not_after(scenario) -> None:
    scenario.given("notification-service", "erase", 503, 503, 503)
    scenario.saga, _ = deletion.start_account_deletion(user=scenario.user)
    scenario.run_once()

    assert engine.request_compensation(scenario.current)
    scenario.when_the_worker_runs().expect_status("failed")

    assert scenario.current.reason == "An operator asked for compensation."
    assert scenario.calls[-2:] == ["notification-service restore", "todo-service restore"]
    assert User.objects.get(pk=scenario.user.pk).is_active
    # and a finished saga cannot be compensated again
    assert not engine.request_compensation(scenario.current)


def test_a_second_deletion_request_gets_the_saga_already_running(scenario) -> None:
    first, created = deletion.start_account_deletion(user=scenario.user)
    again, created_again = deletion.start_account_deletion(user=scenario.user)

    assert created
    assert not created_again
    assert again.pk == first.pk
    assert Saga.objects.count() == 1


def test_an_account_deleted_meanwhile_ends_the_saga_with_the_reason(scenario) -> None:
    scenario.saga, _ = deletion.start_account_deletion(user=scenario.user)
    User.objects.filter(pk=scenario.user.pk).delete()

    scenario.when_the_worker_runs().expect_status("failed").expect_calls()
    assert "no longer exists" in scenario.current.reason
