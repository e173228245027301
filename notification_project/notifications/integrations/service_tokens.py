"""Service tokens for this service's calls to user-service (OAuth2 client credentials), cached.

notification-service reads users' addresses from user-service's
``/internal/users/...`` endpoints (:mod:`notifications.integrations.users`).
For that it asks user-service for a short-lived token with its client id and
secret, and reuses it until shortly before it expires::

    from notifications.integrations.service_tokens import service_token_client

    response = session.get(url, headers=service_token_client().headers())

Configured by the settings ``USER_SERVICE_URLS``, ``SERVICE_CLIENT_ID``,
``SERVICE_CLIENT_SECRET`` and ``SERVICE_TOKEN_REFRESH_MARGIN``.
One client per process is shared by all threads: only one of them fetches a
new token, the others wait for it instead of all asking user-service at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from urllib.parse import quote

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

TOKEN_PATH = "/auth/token"  # noqa: S105 - a URL path, not a password


class ServiceTokenError(Exception):
    """No service token could be had; the message says from where and why (never the secret)."""


@dataclass(frozen=True)
class _Token:
    value: str
    refresh_at: float  # on the client's clock: fetch a new one from then on ...
    expires_at: float  # ... and never use this one after that


class ServiceTokenClient:
    """Fetches a service token with client credentials and caches it until shortly before expiry."""

    def __init__(
        self,
        *,
        base_urls: str | Sequence[str],
        client_id: str,
        client_secret: str,
        scope: str = "",
        refresh_margin: float = 30.0,
        timeout: tuple[float, float] = (1.0, 3.0),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        urls = [base_urls] if isinstance(base_urls, str) else list(base_urls)
        if not urls:
            raise ValueError("base_urls: at least one user-service URL is needed")
        self.token_urls = [f"{url.rstrip('/')}{TOKEN_PATH}" for url in urls]
        self.client_id = client_id
        self._secret = client_secret
        self.scope = scope
        self.refresh_margin = refresh_margin
        self.timeout = timeout
        self._clock = clock
        self._token: _Token | None = None
        self._lock = threading.Lock()
        self._session = requests.Session()

    def __repr__(self) -> str:
        return f"ServiceTokenClient(client_id={self.client_id!r}, token_urls={self.token_urls!r})"

    def token(self) -> str:
        """A valid service token: the cached one, or a new one when it is about to expire."""
        cached = self._token
        if cached is not None and self._clock() < cached.refresh_at:
            return cached.value
        with self._lock:
            cached = self._token  # another thread may have fetched one meanwhile
            if cached is not None and self._clock() < cached.refresh_at:
                return cached.value
            try:
                self._token = self._fetch()
            except ServiceTokenError as exc:
                # A user-service blip inside the margin: the old token is still good.
                if cached is not None and self._clock() < cached.expires_at:
                    logger.warning("service_token_refresh_failed", extra={"error": str(exc)})
                    return cached.value
                raise
            return self._token.value

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}

    def invalidate(self) -> None:
        """Forget the cached token (e.g. after a peer answered 401 to it)."""
        with self._lock:
            self._token = None

    def _fetch(self) -> _Token:
        errors = []
        # client_secret_basic (RFC 6749 section 2.3.1): the secret travels in a header, not a body.
        auth = (quote(self.client_id, safe=""), quote(self._secret, safe=""))
        data = {"grant_type": "client_credentials"}
        if self.scope:
            data["scope"] = self.scope
        for url in self.token_urls:
            started = self._clock()
            try:
                response = self._session.post(url, data=data, auth=auth, timeout=self.timeout)
            except requests.RequestException as exc:
                errors.append(f"{url}: {type(exc).__name__}")
                continue  # another instance may answer
            if response.status_code >= 500:
                errors.append(f"{url}: HTTP {response.status_code}")
                continue
            return self._parse(url, response, started)
        raise ServiceTokenError("no service token: " + "; ".join(errors))

    def _parse(self, url: str, response: requests.Response, started: float) -> _Token:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200:
            code = body.get("code") or body.get("error") or "error"
            raise ServiceTokenError(f"{url}: HTTP {response.status_code} ({code})")
        value, lifetime = body.get("access_token"), body.get("expires_in")
        if not isinstance(value, str) or not isinstance(lifetime, int | float) or lifetime <= 0:
            raise ServiceTokenError(f"{url}: the response has no access_token/expires_in")
        # Counted from when we asked, so network time only makes us refresh earlier.
        margin = min(self.refresh_margin, lifetime / 2)
        return _Token(value, refresh_at=started + lifetime - margin, expires_at=started + lifetime)


@cache
def _client(
    base_urls: tuple[str, ...], client_id: str, client_secret: str, margin: float
) -> ServiceTokenClient:
    return ServiceTokenClient(
        base_urls=base_urls,
        client_id=client_id,
        client_secret=client_secret,
        refresh_margin=margin,
    )


def service_token_client() -> ServiceTokenClient:
    """The process's client, configured from the settings (one per configuration)."""
    urls = settings.USER_SERVICE_URLS
    client_id = settings.SERVICE_CLIENT_ID
    secret = settings.SERVICE_CLIENT_SECRET
    if not urls or not client_id or not secret:
        raise ServiceTokenError(
            "settings need USER_SERVICE_URLS, SERVICE_CLIENT_ID and SERVICE_CLIENT_SECRET"
        )
    base_urls = (urls,) if isinstance(urls, str) else tuple(urls)
    margin = float(settings.SERVICE_TOKEN_REFRESH_MARGIN)
    return _client(base_urls, str(client_id), str(secret), margin)
