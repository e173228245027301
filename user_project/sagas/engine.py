"""The saga orchestrator: runs a saga's steps in order, persisting each state change.

A saga is a list of :class:`Step` s. Each forward step has, unless it cannot be
undone, a compensation. One step may be the *pivot*: once it has succeeded
the saga can only go forward, and the steps after it are retried until they
succeed.

How a worker runs a saga (:func:`advance`):

1. It *claims* the saga: a conditional UPDATE sets a lease (owner and expiry),
   so two workers never run the same saga at once. A worker that dies leaves
   the lease to expire; the periodic sweep (:func:`dispatch_due`) then hands
   the saga to another worker, which resumes at the first step not yet
   succeeded. Every step is idempotent (participants key their work by the
   saga id), so repeating the one that was interrupted does no harm.
2. It records an attempt (``running``), calls the step, and records the result.
   Local steps (this service's own database) commit their change and their
   record in one transaction.
3. A step that fails with a retryable error is tried again later, with
   exponential backoff and jitter, until ``SAGA_RETRY_BUDGET_SECONDS`` have
   passed since its first attempt. Then, or at once for an error that
   retrying cannot fix (a 4xx answer), the saga *compensates*: it undoes, in
   reverse order, every step that succeeded or may have reached its
   participant, and ends ``failed`` with the reason. A step that never reached
   anyone (refused connection, open breaker) has nothing to undo.
4. Compensations, and steps after the pivot, have no budget: they are retried
   until they succeed. One refused for good (4xx) leaves the saga waiting for
   an operator (the admin's "retry step" action) with the reason recorded.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from sagas.metrics import SAGAS_FINISHED
from sagas.models import Saga, SagaStep

logger = logging.getLogger(__name__)

ADVANCE_TASK = "sagas.advance"
Direction = SagaStep.Direction
StepStatus = SagaStep.Status


class StepFailed(Exception):
    """A step did not succeed.

    ``retryable``: trying again later may succeed (the participant is down or
    slow). ``reached``: the participant may have carried the step out, so it
    must be compensated should the saga give up.
    """

    def __init__(self, message: str, *, retryable: bool = True, reached: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.reached = reached


Action = Callable[[Saga], None]


@dataclass(frozen=True)
class Step:
    name: str
    action: Action
    compensation: Action | None = None
    compensation_name: str = ""
    # Runs against this service's own database: the change and the step's
    # record commit together (a failure leaves nothing behind).
    local: bool = False
    # After this step succeeds there is no going back (the account is deleted).
    pivot: bool = False


@dataclass(frozen=True)
class SagaDefinition:
    kind: str
    steps: Sequence[Step]
    _actions: dict[tuple[str, str], Step] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        actions: dict[tuple[str, str], Step] = {}
        for step in self.steps:
            actions[(Direction.FORWARD, step.name)] = step
            if step.compensation is not None:
                actions[(Direction.COMPENSATION, step.compensation_name)] = step
        object.__setattr__(self, "_actions", actions)

    def action_for(self, record: SagaStep) -> tuple[Action, Step]:
        step = self._actions[(record.direction, record.name)]
        action = step.action if record.direction == Direction.FORWARD else step.compensation
        assert action is not None  # noqa: S101 - only compensable steps are registered so
        return action, step

    def step(self, name: str) -> Step:
        return self._actions[(Direction.FORWARD, name)]


def definition_for(kind: str) -> SagaDefinition:
    """The definition named in ``settings.SAGA_DEFINITIONS`` (kind → dotted path)."""
    definition: SagaDefinition = import_string(settings.SAGA_DEFINITIONS[kind])
    return definition


# --- starting ------------------------------------------------------------------


def start(definition: SagaDefinition, *, user_id: int, username: str = "") -> tuple[Saga, bool]:
    """A new saga for the user, or the one already running for them (``created`` False).

    The saga and its steps commit together; a worker is asked to run it once
    they have. Should that message be lost (Redis down), the sweep finds the
    saga due and dispatches it.
    """
    try:
        with transaction.atomic():
            saga = Saga.objects.create(
                kind=definition.kind,
                user_id=user_id,
                username=username,
                next_attempt_at=timezone.now(),
            )
            SagaStep.objects.bulk_create(
                SagaStep(saga=saga, position=position, name=step.name, direction=Direction.FORWARD)
                for position, step in enumerate(definition.steps, start=1)
            )
    except IntegrityError:
        # One active saga per user and kind (a database constraint): this is a repeat.
        return Saga.objects.get(
            kind=definition.kind, user_id=user_id, status__in=Saga.ACTIVE
        ), False
    logger.info("saga_started", extra={"saga_id": str(saga.pk), "saga_kind": saga.kind})
    transaction.on_commit(lambda: dispatch(saga.pk))
    return saga, True


def dispatch(saga_id: uuid.UUID) -> None:
    """Ask a worker to run the saga; if Redis cannot take the message, the sweep will."""
    try:
        current_app.send_task(ADVANCE_TASK, args=[str(saga_id)])
    except Exception:
        logger.warning("saga_dispatch_failed", extra={"saga_id": str(saga_id)}, exc_info=True)


def dispatch_due(*, limit: int = 100) -> int:
    """The periodic sweep: dispatch every active saga that is due and not held by a live worker.

    Each dispatched saga is held back from the next sweeps for one lease
    period, so a saga is not dispatched again while its message waits in the
    queue; if that message is lost, the next sweep after the lease finds it.
    """
    now = timezone.now()
    due = list(
        Saga.objects.filter(status__in=Saga.ACTIVE, next_attempt_at__lte=now)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .values_list("pk", flat=True)[:limit]
    )
    dispatched = 0
    hold = now + timedelta(seconds=settings.SAGA_LEASE_SECONDS)
    for saga_id in due:
        # Conditional: when several workers sweep at once, one of them dispatches.
        if Saga.objects.filter(pk=saga_id, next_attempt_at__lte=now).update(next_attempt_at=hold):
            dispatch(saga_id)
            dispatched += 1
    if dispatched:
        logger.info("saga_sweep_dispatched", extra={"sagas": dispatched})
    return dispatched


# --- running -------------------------------------------------------------------


def advance(saga_id: uuid.UUID | str) -> Saga | None:
    """Run the saga as far as it can go now; ``None`` if another worker holds it or it is done."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    saga = _claim(saga_id, owner)
    if saga is None:
        return None
    definition = definition_for(saga.kind)
    try:
        while _run_next_step(saga, definition, owner):
            pass
    finally:
        Saga.objects.filter(pk=saga.pk, lease_owner=owner).update(
            lease_owner="", lease_expires_at=None
        )
    saga.refresh_from_db()
    return saga


def _claim(saga_id: uuid.UUID | str, owner: str) -> Saga | None:
    now = timezone.now()
    claimed = (
        Saga.objects.filter(pk=saga_id, status__in=Saga.ACTIVE, next_attempt_at__isnull=False)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(lease_owner=owner, lease_expires_at=_lease_end())
    )
    return Saga.objects.get(pk=saga_id) if claimed else None


def _lease_end() -> datetime:
    return timezone.now() + timedelta(seconds=settings.SAGA_LEASE_SECONDS)


def _run_next_step(saga: Saga, definition: SagaDefinition, owner: str) -> bool:
    """Run one step; whether the caller should go on with the next one."""
    # Renewing the lease also tells whether it is still ours (and reads the
    # operator's flags, which the admin may have set meanwhile).
    if not Saga.objects.filter(pk=saga.pk, lease_owner=owner).update(lease_expires_at=_lease_end()):
        logger.warning("saga_lease_lost", extra={"saga_id": str(saga.pk)})
        return False
    saga.refresh_from_db()
    if (
        saga.status == Saga.Status.RUNNING
        and saga.compensation_requested
        and not _past_pivot(saga, definition)
    ):
        _begin_compensation(saga, definition, reason="An operator asked for compensation.")
    direction = Direction.FORWARD if saga.status == Saga.Status.RUNNING else Direction.COMPENSATION
    record = (
        saga.steps.filter(direction=direction, status__in=[StepStatus.PENDING, StepStatus.RUNNING])
        .order_by("position")
        .first()
    )
    if record is None:
        _finish(saga)
        return False
    return _attempt(saga, definition, record)


def _attempt(saga: Saga, definition: SagaDefinition, record: SagaStep) -> bool:
    action, step = definition.action_for(record)
    now = timezone.now()
    record.status = StepStatus.RUNNING
    record.attempts += 1
    record.first_attempted_at = record.first_attempted_at or now
    record.last_attempted_at = now
    record.save(update_fields=["status", "attempts", "first_attempted_at", "last_attempted_at"])
    log = {"saga_id": str(saga.pk), "step": record.name, "attempt": record.attempts}
    try:
        if step.local:
            with transaction.atomic():
                action(saga)
                _succeeded(record)
        else:
            action(saga)
            _succeeded(record)
    except StepFailed as exc:
        return _failed(saga, definition, record, exc, local=step.local)
    except Exception as exc:
        logger.exception("saga_step_error", extra=log)
        failure = StepFailed(f"{type(exc).__name__}: {exc}", retryable=True, reached=True)
        return _failed(saga, definition, record, failure, local=step.local)
    logger.info("saga_step_succeeded", extra=log)
    return True


def _succeeded(record: SagaStep) -> None:
    record.status = StepStatus.SUCCEEDED
    record.finished_at = timezone.now()
    record.save(update_fields=["status", "finished_at"])


def _failed(
    saga: Saga, definition: SagaDefinition, record: SagaStep, exc: StepFailed, *, local: bool
) -> bool:
    now = timezone.now()
    record.last_error = str(exc)[:2000]
    # A local step that failed was rolled back: there is nothing to undo.
    record.reached = record.reached or (exc.reached and not local)
    log = {
        "saga_id": str(saga.pk),
        "step": record.name,
        "attempt": record.attempts,
        "error": str(exc),
    }
    budgeted = record.direction == Direction.FORWARD and not _past_pivot(saga, definition)
    elapsed = (now - (record.first_attempted_at or now)).total_seconds()
    if exc.retryable and not (budgeted and elapsed >= settings.SAGA_RETRY_BUDGET_SECONDS):
        record.status = StepStatus.PENDING
        record.save(update_fields=["status", "last_error", "reached"])
        saga.next_attempt_at = now + timedelta(seconds=_backoff(record.attempts))
        saga.save(update_fields=["next_attempt_at", "updated_at"])
        logger.warning(
            "saga_step_retry", extra={**log, "retry_at": saga.next_attempt_at.isoformat()}
        )
        return False
    record.status = StepStatus.FAILED
    record.finished_at = now
    record.save(update_fields=["status", "finished_at", "last_error", "reached"])
    if budgeted:
        why = "out of retry budget" if exc.retryable else "refused"
        logger.warning("saga_step_failed", extra=log)
        _begin_compensation(saga, definition, reason=f"{record.name} failed ({why}): {exc}")
        return True
    # After the pivot, or while compensating: only going on is possible, and this
    # step was refused for good. An operator decides (the admin's "retry step").
    # The step's record holds the error; the saga waits (no next attempt).
    saga.next_attempt_at = None
    saga.save(update_fields=["next_attempt_at", "updated_at"])
    logger.error("saga_stuck", extra=log)
    return False


def _backoff(attempts: int) -> float:
    """Exponential backoff with jitter: about 0.5 s, 1 s, 2 s ... up to the ceiling."""
    ceiling = min(float(settings.SAGA_RETRY_BACKOFF_MAX), 0.5 * 2 ** (attempts - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not crypto


def _past_pivot(saga: Saga, definition: SagaDefinition) -> bool:
    pivots = [step.name for step in definition.steps if step.pivot]
    return saga.steps.filter(
        direction=Direction.FORWARD, name__in=pivots, status=StepStatus.SUCCEEDED
    ).exists()


@transaction.atomic
def _begin_compensation(saga: Saga, definition: SagaDefinition, *, reason: str) -> None:
    """Plan the undoing, in reverse order, of every step that did or may have done something."""
    now = timezone.now()
    forward = list(saga.steps.filter(direction=Direction.FORWARD).order_by("-position"))
    position = max(record.position for record in forward)
    planned = []
    for record in forward:
        step = definition.step(record.name)
        done = record.status in (StepStatus.SUCCEEDED, StepStatus.RUNNING) or record.reached
        if done and step.compensation is not None:
            position += 1
            planned.append(
                SagaStep(
                    saga=saga,
                    position=position,
                    name=step.compensation_name,
                    direction=Direction.COMPENSATION,
                )
            )
        if record.status == StepStatus.RUNNING or (
            record.status == StepStatus.PENDING and record.attempts
        ):
            record.status = StepStatus.FAILED  # given up, or interrupted by a crash
            record.finished_at = now
            record.save(update_fields=["status", "finished_at"])
        elif record.status == StepStatus.PENDING:
            record.status = StepStatus.SKIPPED
            record.save(update_fields=["status"])
    SagaStep.objects.bulk_create(planned)
    saga.status = Saga.Status.COMPENSATING
    saga.reason = reason
    saga.compensation_requested = False
    saga.next_attempt_at = now
    saga.save(
        update_fields=[
            "status",
            "reason",
            "compensation_requested",
            "next_attempt_at",
            "updated_at",
        ]
    )
    logger.warning(
        "saga_compensating",
        extra={"saga_id": str(saga.pk), "reason": reason, "compensations": len(planned)},
    )


def _finish(saga: Saga) -> None:
    compensated = saga.status == Saga.Status.COMPENSATING
    saga.status = Saga.Status.FAILED if compensated else Saga.Status.COMPLETED
    saga.finished_at = timezone.now()
    saga.next_attempt_at = None
    saga.save(update_fields=["status", "finished_at", "next_attempt_at", "updated_at"])
    event = "saga_failed" if compensated else "saga_completed"
    SAGAS_FINISHED.labels(saga.kind, "failed" if compensated else "completed").inc()
    logger.info(
        event, extra={"saga_id": str(saga.pk), "saga_kind": saga.kind, "reason": saga.reason}
    )


# --- operator actions (the admin's saga console) ---------------------------------


def retry_now(saga: Saga) -> bool:
    """Run a waiting or stuck saga now: a step refused for good is tried once more."""
    if not saga.is_active:
        return False
    direction = Direction.FORWARD if saga.status == Saga.Status.RUNNING else Direction.COMPENSATION
    with transaction.atomic():
        saga.steps.filter(direction=direction, status=StepStatus.FAILED).update(
            status=StepStatus.PENDING, finished_at=None
        )
        Saga.objects.filter(pk=saga.pk).update(next_attempt_at=timezone.now())
    transaction.on_commit(lambda: dispatch(saga.pk))
    return True


def request_compensation(saga: Saga) -> bool:
    """Ask for compensation; a worker does it at the next step boundary (before the pivot only)."""
    if saga.status != Saga.Status.RUNNING or _past_pivot(saga, definition_for(saga.kind)):
        return False
    Saga.objects.filter(pk=saga.pk).update(
        compensation_requested=True, next_attempt_at=timezone.now()
    )
    transaction.on_commit(lambda: dispatch(saga.pk))
    return True
