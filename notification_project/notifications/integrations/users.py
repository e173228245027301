"""The one thing this service asks user-service: a user's email address.

``GET {USER_SERVICE_URL}/internal/users/{id}`` with a service token (client
credentials, from :mod:`.service_tokens`), through the suite's HTTP client
(``servicekit.http``: connect and read timeouts, bounded retries of the
idempotent GET, a circuit breaker for user-service). Breaker state
changes are logged; answers are cached for ``USER_CONTACT_CACHE_SECONDS``.

The rest of the service sees :func:`user_contact` and two exceptions:
:class:`UserServiceUnavailable` (transient: retry later) and
:class:`UserNotFound` (permanent).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

import pybreaker
from django.conf import settings
from django.core.cache import cache as django_cache
from servicekit import http

from notifications.integrations.service_tokens import ServiceTokenError, service_token_client

logger = logging.getLogger(__name__)

SERVICE = "user-service"
CACHE_PREFIX = "user-contact:"


@dataclass(frozen=True)
class Contact:
    user_id: int
    username: str
    email: str
    is_active: bool


class UserServiceUnavailable(Exception):
    """user-service did not answer usefully (down, slow, 5xx, breaker open); retry later."""


class UserNotFound(Exception):
    """user-service does not know this user (deleted, or never existed)."""


def user_contact(user_id: int) -> Contact:
    """The user's address, from the cache or from user-service."""
    cached = django_cache.get(f"{CACHE_PREFIX}{user_id}")
    if cached is not None:
        return Contact(**cached)
    try:
        body = _fetch_user(user_id)
    except http.UpstreamNotFound:
        raise UserNotFound(f"user {user_id} does not exist in user-service") from None
    except (http.UpstreamError, ServiceTokenError) as exc:
        raise UserServiceUnavailable(str(exc)) from exc
    contact = Contact(
        user_id=int(body["id"]),
        username=str(body.get("username", "")),
        email=str(body.get("email") or ""),
        is_active=bool(body.get("is_active", True)),
    )
    timeout = settings.USER_CONTACT_CACHE_SECONDS
    django_cache.set(f"{CACHE_PREFIX}{user_id}", asdict(contact), timeout)
    return contact


def _fetch_user(user_id: int) -> dict[str, Any]:
    try:
        body: dict[str, Any] = client().get(f"/internal/users/{user_id}")
    except http.UpstreamResponseError as exc:
        if exc.status != 401:
            raise
        # The token was revoked or the keys rotated: a new token, one more try.
        service_token_client().invalidate()
        body = client().get(f"/internal/users/{user_id}")
    return body


class _LogStateChanges(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        logger.warning(
            "breaker_state_changed",
            extra={
                "breaker": cb.name,
                "from_state": getattr(old_state, "name", None),
                "to_state": new_state.name,
            },
        )


@cache
def client() -> http.HttpClient:
    """One client per process; its breaker is the process's breaker for user-service."""
    users = http.HttpClient(
        SERVICE, settings.USER_SERVICE_URLS, token=lambda: service_token_client().token()
    )
    if not any(isinstance(item, _LogStateChanges) for item in users.breaker.listeners):
        users.breaker.add_listener(_LogStateChanges())
    return users


def reset() -> None:
    """Forget clients, breakers and cached contacts (tests, settings changes)."""
    client.cache_clear()
    http.reset_breakers()
    django_cache.clear()
