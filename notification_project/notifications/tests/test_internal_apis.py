"""The account-deletion saga's calls: erase, restore (compensation), purge.

user-service calls them with a service token carrying ``notifications:erase``;
what a user would notice is their notifications and preferences vanishing from
the API (and no more emails), coming back on restore, and gone after purge.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client

from notifications import services
from notifications.models import Erasure, Notification, Preference, ProcessedEvent
from notifications.tests.conftest import OWNER_ID
from notifications.tests.support import make_notification

pytestmark = pytest.mark.django_db

ALICE, BOB = OWNER_ID, 8


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def orchestrator(token_factory: Any) -> Client:
    """user-service, with the scope its client really has (SERVICE_CLIENT_SCOPES)."""
    token = token_factory.service("user-service", scope="todos:erase notifications:erase")
    return Client(headers=_bearer(token))


@pytest.fixture
def alice(token_factory: Any) -> Client:
    return Client(headers=_bearer(token_factory.access(ALICE, username="alice")))


def call(client: Client, step: str, saga_id: uuid.UUID, user_id: int = ALICE) -> dict[str, Any]:
    response = client.post(
        f"/internal/users/{user_id}/{step}",
        {"saga_id": str(saga_id)},
        content_type="application/json",
    )
    return {"status_code": response.status_code, **response.json()}


@pytest.fixture
def alice_data() -> Notification:
    """Two notifications of Alice's, her opt-out, and one notification of Bob's."""
    make_notification(ALICE, status="sent")
    mine = make_notification(ALICE, status="sent")
    Preference.objects.create(user_id=ALICE, email_on_todo_completed=False)
    make_notification(BOB, status="sent")
    return mine


# -- each step -------------------------------------------------------------------------------


def test_erase_hides_the_users_notifications_and_preferences(
    orchestrator, alice, alice_data
) -> None:
    saga = uuid.uuid4()

    result = call(orchestrator, "erase", saga)

    assert result == {
        "status_code": 200,
        "saga_id": str(saga),
        "user_id": ALICE,
        "status": "erased",
        "notifications": 2,
        "preferences": 1,
    }
    assert alice.get("/notifications").json()["count"] == 0
    assert alice.get(f"/notifications/{alice_data.id}").status_code == 404
    # the stored opt-out is hidden: the defaults show
    assert alice.get("/notifications/preferences").json() == {"email_on_todo_completed": True}
    assert Notification.objects.filter(user_id=BOB, erased_by_saga=None).count() == 1


def test_erase_twice_with_the_same_saga_is_the_same_answer(orchestrator, alice_data) -> None:
    saga = uuid.uuid4()

    first = call(orchestrator, "erase", saga)
    again = call(orchestrator, "erase", saga)

    assert again == first


def test_restore_brings_everything_back(orchestrator, alice, alice_data) -> None:
    saga = uuid.uuid4()
    call(orchestrator, "erase", saga)

    restored = call(orchestrator, "restore", saga)
    again = call(orchestrator, "restore", saga)

    assert (restored["status_code"], restored["status"]) == (200, "restored")
    assert (restored["notifications"], restored["preferences"]) == (2, 1)
    assert again == restored
    assert alice.get("/notifications").json()["count"] == 2
    assert alice.get(f"/notifications/{alice_data.id}").status_code == 200
    assert alice.get("/notifications/preferences").json() == {"email_on_todo_completed": False}


def test_purge_deletes_the_users_data_for_good_and_is_idempotent(orchestrator, alice_data) -> None:
    saga = uuid.uuid4()
    call(orchestrator, "erase", saga)

    purged = call(orchestrator, "purge", saga)
    again = call(orchestrator, "purge", saga)
    restore = call(orchestrator, "restore", saga)

    assert (purged["status_code"], purged["status"]) == (200, "purged")
    assert (purged["notifications"], purged["preferences"]) == (2, 1)
    assert again == purged
    assert not Notification.objects.filter(user_id=ALICE).exists()
    assert not Preference.objects.filter(user_id=ALICE).exists()
    assert Notification.objects.filter(user_id=BOB).count() == 1
    assert (restore["status_code"], restore["code"]) == (409, "saga_conflict")


def test_a_restore_before_its_erase_blocks_that_erase(orchestrator, alice, alice_data) -> None:
    # given the saga compensated an erase whose call never arrived
    saga = uuid.uuid4()
    early = call(orchestrator, "restore", saga)

    # when the late erase arrives
    late = call(orchestrator, "erase", saga)

    # then it is refused and nothing is hidden
    assert (early["status_code"], early["notifications"], early["preferences"]) == (200, 0, 0)
    assert (late["status_code"], late["code"]) == (409, "saga_conflict")
    assert alice.get("/notifications").json()["count"] == 2


# -- conflicts -------------------------------------------------------------------------------


def test_purge_without_erase_is_409_and_records_nothing(orchestrator) -> None:
    result = call(orchestrator, "purge", uuid.uuid4())

    assert (result["status_code"], result["code"]) == (409, "saga_conflict")
    assert not Erasure.objects.exists()


def test_purge_after_restore_is_409_and_deletes_nothing(orchestrator, alice_data) -> None:
    saga = uuid.uuid4()
    call(orchestrator, "erase", saga)
    call(orchestrator, "restore", saga)

    result = call(orchestrator, "purge", saga)

    assert (result["status_code"], result["code"]) == (409, "saga_conflict")
    assert Notification.objects.filter(user_id=ALICE).count() == 2


def test_a_saga_id_is_bound_to_one_user(orchestrator, alice_data) -> None:
    saga = uuid.uuid4()
    call(orchestrator, "erase", saga, user_id=ALICE)

    other = call(orchestrator, "erase", saga, user_id=BOB)

    assert (other["status_code"], other["code"]) == (409, "saga_conflict")
    assert Notification.objects.filter(user_id=BOB, erased_by_saga=None).count() == 1


# -- while the erasure is in force --------------------------------------------------------------


def test_an_event_for_an_erased_user_sends_no_email_and_stays_hidden(
    orchestrator, alice, smtp_sink, user_service, todo_completed
) -> None:
    saga = uuid.uuid4()
    call(orchestrator, "erase", saga)

    services.event_handle(envelope=todo_completed(user_id=ALICE))

    assert smtp_sink.received() == []
    notification = Notification.objects.get()
    assert notification.status == Notification.Status.SKIPPED
    assert notification.last_error == "the account is being deleted"
    assert alice.get("/notifications").json()["count"] == 0
    # restore shows it (as skipped); nothing is sent afterwards either
    call(orchestrator, "restore", saga)
    [item] = alice.get("/notifications").json()["results"]
    assert (item["id"], item["status"]) == (notification.id, "skipped")
    assert smtp_sink.received() == []


def test_an_event_recorded_during_the_erasure_is_purged_with_it(
    orchestrator, smtp_sink, user_service, todo_completed
) -> None:
    saga = uuid.uuid4()
    call(orchestrator, "erase", saga)
    services.event_handle(envelope=todo_completed(user_id=ALICE))

    purged = call(orchestrator, "purge", saga)

    assert purged["notifications"] == 1
    assert not Notification.objects.filter(user_id=ALICE).exists()


def test_an_event_arriving_after_the_account_was_deleted_leaves_nothing_behind(
    orchestrator, smtp_sink, user_service, todo_completed
) -> None:
    # given an account whose deletion has gone through here
    saga = uuid.uuid4()
    call(orchestrator, "erase", saga)
    call(orchestrator, "purge", saga)

    # when an event for it arrives late (it waited out an outage, or came again)
    envelope = todo_completed(user_id=ALICE)
    services.event_handle(envelope=envelope)

    # then no email and no notification: it is recorded as ignored, and only that
    assert smtp_sink.received() == []
    assert not Notification.objects.filter(user_id=ALICE).exists()
    processed = ProcessedEvent.objects.get(event_id=envelope["id"])
    assert (processed.outcome, processed.reason) == ("ignored", "the account was deleted")


def test_a_pending_email_is_not_sent_once_the_user_is_erased(
    orchestrator, smtp_sink, user_service
) -> None:
    # given a notification whose email had not gone out yet (a retry is due)
    pending = make_notification(ALICE)
    call(orchestrator, "erase", uuid.uuid4())

    # when its delivery runs
    services.notification_deliver(notification_id=pending.id)

    # then no email, and the reason is on the record
    assert smtp_sink.received() == []
    pending.refresh_from_db()
    assert (pending.status, pending.last_error) == ("skipped", "the account is being deleted")


def test_preferences_cannot_be_changed_while_the_account_is_being_deleted(
    orchestrator, alice, alice_data
) -> None:
    saga = uuid.uuid4()
    call(orchestrator, "erase", saga)

    response = alice.patch(
        "/notifications/preferences",
        {"email_on_todo_completed": True},
        content_type="application/json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "account_being_deleted"
    call(orchestrator, "restore", saga)
    assert alice.get("/notifications/preferences").json() == {"email_on_todo_completed": False}


# -- the request ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{}, {"saga_id": "not-a-uuid"}, {"saga_id": 5}],
    ids=["missing", "not a uuid", "an integer"],
)
def test_a_missing_or_bad_saga_id_is_400_naming_it(orchestrator, body: dict[str, Any]) -> None:
    response = orchestrator.post(
        f"/internal/users/{ALICE}/erase", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert "saga_id" in response.json()
    assert not Erasure.objects.exists()


@pytest.mark.parametrize("step", ["erase", "restore", "purge"])
def test_user_tokens_are_403_and_anonymous_callers_401(alice, step: str) -> None:
    body = {"saga_id": str(uuid.uuid4())}
    path = f"/internal/users/{ALICE}/{step}"

    as_user = alice.post(path, body, content_type="application/json")
    anonymous = Client().post(path, body, content_type="application/json")

    assert as_user.status_code == 403
    assert anonymous.status_code == 401
    assert not Erasure.objects.exists()


def test_a_service_token_without_the_scope_is_403(token_factory, alice, alice_data) -> None:
    # todo-service's scope is not notification-service's
    client = Client(headers=_bearer(token_factory.service("user-service", scope="todos:erase")))

    response = client.post(
        f"/internal/users/{ALICE}/erase",
        {"saga_id": str(uuid.uuid4())},
        content_type="application/json",
    )

    assert response.status_code == 403
    assert alice.get("/notifications").json()["count"] == 2


def test_the_schema_documents_the_saga_calls(client: Client) -> None:
    schema = client.get("/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    for step in ("erase", "restore", "purge"):
        operation = schema["paths"][f"/internal/users/{{user_id}}/{step}"]["post"]
        assert operation["requestBody"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/SagaInput"
        }
        assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Erasure"
        }
    assert set(schema["components"]["schemas"]["Erasure"]["properties"]) == {
        "saga_id",
        "user_id",
        "status",
        "notifications",
        "preferences",
    }
