"""Deleting an account: an orchestrated saga across user, todo and notification services.

The steps (docs/spec/events.md, "Steps"), each undone by its compensation if
the saga gives up before the pivot:

1. ``lock_account`` (here): no more logins, every token revoked — the
   semantic lock. Undone by ``unlock_account``.
2. ``erase_todos`` (todo-service): the todos are hidden. Undone by ``restore_todos``.
3. ``erase_notifications`` (notification-service): notifications and
   preferences are hidden. Undone by ``restore_notifications``.
4. ``delete_account`` (here): the pivot; from here on the saga only goes forward.
5. ``purge_todos``, 6. ``purge_notifications``: the participants delete what
   they hid.

Participants key every call by the saga id, so a repeated call is a no-op:
the engine (:mod:`sagas.engine`) may repeat a step after a crash or a timeout.
"""

from __future__ import annotations

import logging
from functools import cache

from django.conf import settings
from servicekit import http

from accounts import services
from accounts.models import User
from accounts.tokens import issue_service_token
from sagas import engine
from sagas.engine import SagaDefinition, Step, StepFailed
from sagas.models import Saga

logger = logging.getLogger(__name__)

SERVICE_CLIENT_ID = "user-service"  # the saga worker's own client (SERVICE_CLIENT_SCOPES)


def start_account_deletion(*, user: User) -> tuple[Saga, bool]:
    """The deletion saga for this account: a new one, or the one already under way."""
    return engine.start(ACCOUNT_DELETION, user_id=user.pk, username=user.username)


# --- steps in user-service ---------------------------------------------------------


def lock_account(saga: Saga) -> None:
    user = User.objects.filter(pk=saga.user_id).first()
    if user is None:
        raise StepFailed("The account no longer exists.", retryable=False, reached=False)
    services.user_lock(user=user)


def unlock_account(saga: Saga) -> None:
    user = User.objects.filter(pk=saga.user_id).first()
    if user is not None:
        services.user_unlock(user=user)


def delete_account(saga: Saga) -> None:
    # Deleting what is already gone is fine: the step may be repeated after a crash.
    User.objects.filter(pk=saga.user_id).delete()
    logger.info("user_deleted", extra={"user_id": saga.user_id, "saga_id": str(saga.pk)})


# --- steps in the participants -------------------------------------------------------


@cache
def participant(service: str) -> http.HttpClient:
    """The shared HTTP client (timeouts, retries, breaker) for one participant."""
    urls = {
        "todo-service": settings.TODO_SERVICE_URLS,
        "notification-service": settings.NOTIFICATION_SERVICE_URLS,
    }[service]
    return http.HttpClient(
        service,
        urls,
        token=_service_token,
        connect_timeout=settings.SAGA_HTTP_CONNECT_TIMEOUT,
        read_timeout=settings.SAGA_HTTP_READ_TIMEOUT,
    )


def _service_token() -> str:
    # The worker is part of user-service and holds its signing key: it mints its
    # own service token instead of asking itself for one over HTTP.
    scopes = settings.SERVICE_CLIENT_SCOPES[SERVICE_CLIENT_ID]
    return issue_service_token(client_id=SERVICE_CLIENT_ID, scopes=scopes).access_token


def _call(service: str, action: str, saga: Saga) -> None:
    """``POST /internal/users/{id}/{action}`` with the saga id; errors as :class:`StepFailed`."""
    try:
        participant(service).post(
            f"/internal/users/{saga.user_id}/{action}",
            json={"saga_id": str(saga.pk)},
            # The endpoints are idempotent by saga id, so the client may retry the POST.
            idempotency_key=f"saga-{saga.pk}-{action}",
        )
    except http.UpstreamResponseError as exc:
        # The participant answered: a 5xx may pass, a 4xx (a conflict, a refusal) will not.
        retryable = exc.status >= 500 or exc.status in (408, 429)
        raise StepFailed(str(exc.detail), retryable=retryable, reached=True) from exc
    except http.UpstreamError as exc:
        raise StepFailed(str(exc.detail), retryable=True, reached=exc.request_sent) from exc


def erase_todos(saga: Saga) -> None:
    _call("todo-service", "erase", saga)


def restore_todos(saga: Saga) -> None:
    _call("todo-service", "restore", saga)


def purge_todos(saga: Saga) -> None:
    _call("todo-service", "purge", saga)


def erase_notifications(saga: Saga) -> None:
    _call("notification-service", "erase", saga)


def restore_notifications(saga: Saga) -> None:
    _call("notification-service", "restore", saga)


def purge_notifications(saga: Saga) -> None:
    _call("notification-service", "purge", saga)


ACCOUNT_DELETION = SagaDefinition(
    kind="account_deletion",
    steps=(
        Step("lock_account", lock_account, unlock_account, "unlock_account", local=True),
        Step("erase_todos", erase_todos, restore_todos, "restore_todos"),
        Step(
            "erase_notifications",
            erase_notifications,
            restore_notifications,
            "restore_notifications",
        ),
        Step("delete_account", delete_account, local=True, pivot=True),
        Step("purge_todos", purge_todos),
        Step("purge_notifications", purge_notifications),
    ),
)
