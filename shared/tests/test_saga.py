"""servicekit.saga through a tiny participant (tests/saga_app): its notes are what a saga hides.

The HTTP contract user-service's orchestrator relies on, row by row, and the
state machine's guarantees: idempotency by saga id, restore-before-erase,
conflicts, and one transaction per step.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from saga_app.models import Erasure, Note
from saga_app.saga import SCOPE, NotesSagaApi, delete, hide, participant, unhide

from servicekit.saga.apis import saga_step_urls
from servicekit.saga.models import ErasureStatus
from servicekit.saga.participant import SagaConflict, SagaParticipant

pytestmark = pytest.mark.django_db

ALICE, BOB = 7, 8


@pytest.fixture
def orchestrator(client: Client, token_factory: Any) -> Client:
    """user-service, with a service token carrying the participant's scope."""
    token = token_factory.service("user-service", scope=SCOPE)
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def call(client: Client, step: str, saga_id: uuid.UUID, user_id: int = ALICE) -> dict[str, Any]:
    response = client.post(
        f"/internal/users/{user_id}/{step}",
        {"saga_id": str(saga_id)},
        content_type="application/json",
    )
    return {"status_code": response.status_code, **response.json()}


def visible_notes(user_id: int = ALICE) -> int:
    return Note.objects.filter(user_id=user_id, hidden_by_saga__isnull=True).count()


def make_notes(user_id: int = ALICE, count: int = 1) -> None:
    Note.objects.bulk_create(Note(user_id=user_id, text=f"note {n}") for n in range(count))


# -- each step and its repeat ------------------------------------------------------------


def test_erase_hides_only_that_users_data_and_answers_with_the_record(orchestrator) -> None:
    make_notes(ALICE, 2)
    make_notes(BOB)
    saga = uuid.uuid4()

    result = call(orchestrator, "erase", saga)

    assert result == {
        "status_code": 200,
        "saga_id": str(saga),
        "user_id": ALICE,
        "status": "erased",
        "notes": 2,
    }
    assert visible_notes(ALICE) == 0
    assert visible_notes(BOB) == 1


def test_a_repeated_step_gives_the_first_answer_and_does_nothing_more(orchestrator) -> None:
    make_notes(ALICE)
    saga = uuid.uuid4()
    first_erase = call(orchestrator, "erase", saga)
    make_notes(ALICE)  # written after the erase: a repeat must not hide it too

    assert call(orchestrator, "erase", saga) == first_erase
    assert visible_notes() == 1


def test_restore_brings_back_exactly_what_the_saga_hid(orchestrator) -> None:
    make_notes(ALICE, 3)
    saga = uuid.uuid4()
    call(orchestrator, "erase", saga)

    restored = call(orchestrator, "restore", saga)
    again = call(orchestrator, "restore", saga)

    assert (restored["status_code"], restored["status"], restored["notes"]) == (
        200,
        "restored",
        3,
    )
    assert again == restored
    assert visible_notes() == 3


def test_purge_deletes_what_was_hidden_for_good(orchestrator) -> None:
    make_notes(ALICE, 2)
    make_notes(BOB)
    saga = uuid.uuid4()
    call(orchestrator, "erase", saga)

    purged = call(orchestrator, "purge", saga)
    again = call(orchestrator, "purge", saga)

    assert (purged["status_code"], purged["status"], purged["notes"]) == (200, "purged", 2)
    assert again == purged
    assert Note.objects.filter(user_id=ALICE).count() == 0
    assert Note.objects.filter(user_id=BOB).count() == 1


def test_a_restore_before_its_erase_is_recorded_and_blocks_that_erase(orchestrator) -> None:
    # given the saga compensated an erase whose call never arrived
    make_notes(ALICE)
    saga = uuid.uuid4()
    early = call(orchestrator, "restore", saga)

    # when the late erase arrives
    late = call(orchestrator, "erase", saga)

    # then it is refused and nothing is hidden
    assert (early["status_code"], early["status"], early["notes"]) == (200, "restored", 0)
    assert late["status_code"] == 409
    assert late["code"] == "saga_conflict"
    assert visible_notes() == 1


# -- conflicts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "step", "message"),
    [
        ([], "purge", "erase comes before purge"),
        (["erase", "restore"], "purge", "nothing to purge"),
        (["erase", "purge"], "restore", "cannot be restored"),
        (["erase", "restore"], "erase", "already restored"),
        (["erase", "purge"], "erase", "already purged"),
    ],
)
def test_a_step_that_contradicts_what_happened_is_409(
    orchestrator, before: list[str], step: str, message: str
) -> None:
    make_notes(ALICE)
    saga = uuid.uuid4()
    for earlier in before:
        assert call(orchestrator, earlier, saga)["status_code"] == 200
    erasures = list(Erasure.objects.values())
    notes = Note.objects.count()

    result = call(orchestrator, step, saga)

    assert result["status_code"] == 409
    assert result["code"] == "saga_conflict"
    assert message in result["detail"]
    assert list(Erasure.objects.values()) == erasures
    assert Note.objects.count() == notes


@pytest.mark.parametrize("step", ["erase", "restore", "purge"])
def test_a_saga_id_is_bound_to_one_user(orchestrator, step: str) -> None:
    make_notes(BOB)
    saga = uuid.uuid4()
    call(orchestrator, "erase", saga, user_id=ALICE)

    other = call(orchestrator, step, saga, user_id=BOB)

    assert other["status_code"] == 409
    assert other["detail"] == f"Saga {saga} belongs to another user."
    assert visible_notes(BOB) == 1


def test_a_failing_effect_leaves_no_record_so_the_retry_does_the_work(orchestrator) -> None:
    # given a hide effect that fails halfway, after changing rows
    make_notes(ALICE, 2)
    saga = uuid.uuid4()

    def hide_then_fail(*, user_id: int, saga_id: uuid.UUID) -> dict[str, int]:
        hide(user_id=user_id, saga_id=saga_id)
        raise RuntimeError("disk full")

    failing = SagaParticipant(
        Erasure, data="notes", hide=hide_then_fail, unhide=unhide, delete=delete
    )

    # when the step fails
    with pytest.raises(RuntimeError):
        failing.erase(user_id=ALICE, saga_id=saga)

    # then nothing happened, and the orchestrator's retry erases
    assert not Erasure.objects.exists()
    assert visible_notes() == 2
    assert call(orchestrator, "erase", saga)["notes"] == 2


def test_a_count_the_model_has_no_field_for_is_an_error() -> None:
    def hide_unknown(*, user_id: int, saga_id: uuid.UUID) -> dict[str, int]:
        return {"photos": 1}

    wrong = SagaParticipant(Erasure, data="notes", hide=hide_unknown, unhide=unhide, delete=delete)

    with pytest.raises(ValueError, match="photos"):
        wrong.erase(user_id=ALICE, saga_id=uuid.uuid4())
    assert not Erasure.objects.exists()


def test_the_participant_can_be_called_without_http() -> None:
    make_notes(ALICE)
    saga = uuid.uuid4()

    erased = participant.run("erase", user_id=ALICE, saga_id=saga)

    assert (erased.status, erased.notes) == (ErasureStatus.ERASED, 1)
    with pytest.raises(SagaConflict):
        participant.run("purge", user_id=BOB, saga_id=saga)


# -- the request -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{}, {"saga_id": "not-a-uuid"}, {"saga_id": 5}, {"saga_id": None}],
    ids=["missing", "not a uuid", "an integer", "null"],
)
def test_a_missing_or_bad_saga_id_is_400_naming_it(orchestrator, body: dict[str, Any]) -> None:
    response = orchestrator.post(
        f"/internal/users/{ALICE}/erase", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert "saga_id" in response.json()
    assert not Erasure.objects.exists()


@pytest.mark.parametrize("step", ["erase", "restore", "purge"])
def test_user_tokens_are_403_and_anonymous_callers_401(
    client: Client, token_factory: Any, step: str
) -> None:
    body = {"saga_id": str(uuid.uuid4())}
    path = f"/internal/users/{ALICE}/{step}"

    anonymous = client.post(path, body, content_type="application/json")
    as_user = client.post(
        path,
        body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token_factory.access(ALICE)}"},
    )

    assert anonymous.status_code == 401
    assert as_user.status_code == 403
    assert not Erasure.objects.exists()


def test_a_service_token_without_the_scope_is_403(client: Client, token_factory: Any) -> None:
    make_notes(ALICE)
    token = token_factory.service("notification-service", scope="users:read")

    response = client.post(
        f"/internal/users/{ALICE}/erase/",
        {"saga_id": str(uuid.uuid4())},
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert response.status_code == 403
    assert visible_notes() == 1


def test_each_step_is_documented_with_the_saga_input_its_answer_and_a_409() -> None:
    # given the participant's view, decorated with document_saga_step as services do
    patterns = saga_step_urls(NotesSagaApi, name="notes")

    schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)

    for step in ("erase", "restore", "purge"):
        operation = schema["paths"][f"/internal/users/{{user_id}}/{step}"]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/SagaInput"}
        assert answer == {"$ref": "#/components/schemas/NoteErasure"}
        assert (
            operation["responses"]["409"]["description"] == "The step contradicts an earlier one."
        )
