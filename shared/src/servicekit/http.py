"""The outbound HTTP client for service-to-service calls.

Every call another service makes goes through :class:`HttpClient`:

- one pooled ``requests.Session`` per client (keep-alive), created once;
- a connect and a read timeout on every call;
- retries only where repeating cannot do harm (idempotent methods, or a POST
  with an ``Idempotency-Key``), only after a failed connect or a 502/503/504,
  at most ``HTTP_RETRIES`` times, on the next base URL when there are several;
- one circuit breaker per upstream service (:mod:`servicekit.breaker`), shared
  by every client of that service in the process; a 503 with ``Retry-After``
  (the service runs, its database does not) is raised but does not count;
- the caller's request id passed on as ``X-Request-ID``;
- errors as typed exceptions: :class:`UpstreamUnavailable` (503),
  :class:`UpstreamTimeout` (504), :class:`UpstreamResponseError` (the service
  answered an error; ``.status``, ``.detail`` and ``.code`` from its JSON body),
  with :class:`UpstreamNotFound` for a 404.

They are :class:`~servicekit.exceptions.ServiceError` subclasses, so one that
escapes a DRF view becomes a clean JSON error naming the service. Example::

    users = HttpClient("user-service", settings.USER_SERVICE_URLS, token=service_token)
    email = users.get(f"/internal/users/{user_id}")["email"]
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from rest_framework import status
from urllib3.exceptions import NewConnectionError

from servicekit.breaker import CircuitBreaker, CircuitBreakerError, service_is_up
from servicekit.context import request_id_var
from servicekit.exceptions import ServiceError
from servicekit.metrics.defs import UPSTREAM_REQUEST_DURATION, UPSTREAM_RETRIES
from servicekit.settings import servicekit_settings

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUSES = frozenset({502, 503, 504})


class UpstreamError(ServiceError):
    """Something went wrong calling another service; ``service`` names it."""

    status_code: int = status.HTTP_502_BAD_GATEWAY
    default_code = "upstream_error"

    def __init__(
        self, service: str, detail: str, code: str | None = None, *, request_sent: bool = True
    ) -> None:
        super().__init__(detail, code)
        self.service = service
        # False only when the request certainly never reached the service (no
        # connection, or the breaker is open): a caller deciding whether a step
        # needs undoing can rely on it. A timeout or a reset may have been carried out.
        self.request_sent = request_sent


class UpstreamUnavailable(UpstreamError):
    """Refused, unreachable, or its breaker is open."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "upstream_unavailable"


class UpstreamTimeout(UpstreamError):
    status_code = status.HTTP_504_GATEWAY_TIMEOUT
    default_code = "upstream_timeout"


class UpstreamResponseError(UpstreamError):
    """The service answered with an error status; what it said is kept."""

    def __init__(self, service: str, response: requests.Response) -> None:
        try:
            body: Any = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        self.status = response.status_code
        self.body = body
        self.upstream_code = str(body.get("code", ""))
        message = str(body.get("detail") or response.reason or "error")
        super().__init__(service, f"{service} answered {self.status}: {message}")


class UpstreamNotFound(UpstreamResponseError):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "not_found"


_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(service: str) -> CircuitBreaker:
    """The process's breaker for ``service`` (created on first use)."""
    with _breakers_lock:
        if service not in _breakers:
            _breakers[service] = CircuitBreaker(
                fail_max=servicekit_settings.HTTP_BREAKER_FAIL_MAX,
                reset_timeout=servicekit_settings.HTTP_BREAKER_RESET_SECONDS,
                name=service,
            )
        return _breakers[service]


def reset_breakers() -> None:
    with _breakers_lock:
        _breakers.clear()


class _Failed(Exception):
    """One attempt failed in a way that may be retried; carries the final error."""

    def __init__(self, error: UpstreamError, response: requests.Response | None = None) -> None:
        self.error = error
        self.response = response

    @property
    def service_is_up(self) -> bool:
        return self.response is not None and service_is_up(
            self.response.status_code, self.response.headers
        )


class HttpClient:
    """JSON calls to one service (one or more base URLs), with the suite's policies."""

    def __init__(
        self,
        service: str,
        base_urls: str | Sequence[str],
        *,
        token: Callable[[], str] | None = None,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
        retries: int | None = None,
        backoff: float = 0.05,
    ) -> None:
        if isinstance(base_urls, str):
            base_urls = base_urls.split(",")
        self.service = service
        self.base_urls = [url.strip().rstrip("/") for url in base_urls if url.strip()]
        self.token = token
        self.timeout = (
            connect_timeout or servicekit_settings.HTTP_CONNECT_TIMEOUT,
            read_timeout or servicekit_settings.HTTP_READ_TIMEOUT,
        )
        self.retries = servicekit_settings.HTTP_RETRIES if retries is None else retries
        self.backoff = backoff
        self.breaker = breaker_for(service)
        self.session = requests.Session()
        # Our own retry policy below; urllib3's would also retry what must not be.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._next = itertools.count()

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """The decoded JSON body (``None`` for an empty one), or an :class:`UpstreamError`."""
        method = method.upper()
        sent = dict(headers or {})
        if idempotency_key:
            sent["Idempotency-Key"] = idempotency_key
        request_id = request_id_var.get()
        if request_id:
            sent.setdefault("X-Request-ID", request_id)
        retryable = method in IDEMPOTENT_METHODS or "Idempotency-Key" in sent
        attempts = 1 + (self.retries if retryable else 0)

        def call() -> requests.Response:
            if self.token is not None:
                # Inside the breaker: failing to get a token from the upstream (it is
                # down) counts against the upstream like any other failed call.
                sent["Authorization"] = f"Bearer {self.token()}"
            last: _Failed | None = None
            for attempt in range(attempts):
                if attempt:
                    UPSTREAM_RETRIES.labels(self.service).inc()
                    time.sleep(self.backoff * attempt)
                base = self.base_urls[next(self._next) % len(self.base_urls)]
                try:
                    return self._send(method, base + path, json, params, sent)
                except _Failed as failed:
                    last = failed
            assert last is not None  # noqa: S101 - at least one attempt ran
            if last.response is not None and last.service_is_up:
                return last.response  # raised below as the service's error, breaker closed
            raise last.error

        try:
            response = self.breaker.call(call)
        except CircuitBreakerError:
            raise UpstreamUnavailable(
                self.service,
                f"{self.service} is unavailable (circuit breaker open).",
                "circuit_open",
                request_sent=False,
            ) from None
        if response.status_code >= 400:
            error = UpstreamNotFound if response.status_code == 404 else UpstreamResponseError
            raise error(self.service, response)
        return response.json() if response.content else None

    def _send(
        self,
        method: str,
        url: str,
        json: Any,
        params: dict[str, Any] | None,
        headers: dict[str, str],
    ) -> requests.Response:
        """One attempt, timed into ``upstream_request_duration_seconds``."""
        started = time.perf_counter()
        outcome = "error"
        try:
            response = self._attempt(method, url, json, params, headers)
            outcome = str(response.status_code)
            return response
        except _Failed as failed:
            error = failed.error
            outcome = str(error.status) if isinstance(error, UpstreamResponseError) else "error"
            raise
        except UpstreamTimeout:
            outcome = "timeout"
            raise
        finally:
            UPSTREAM_REQUEST_DURATION.labels(self.service, outcome).observe(
                time.perf_counter() - started
            )

    def _attempt(
        self,
        method: str,
        url: str,
        json: Any,
        params: dict[str, Any] | None,
        headers: dict[str, str],
    ) -> requests.Response:
        name = self.service
        try:
            response = self.session.request(
                method, url, json=json, params=params, headers=headers, timeout=self.timeout
            )
        except requests.ConnectTimeout as exc:
            error = UpstreamUnavailable(name, f"{name} is unreachable.", request_sent=False)
            raise _Failed(error) from exc
        except requests.Timeout as exc:
            # Not retried: the call may have been carried out, and the caller waited enough.
            raise UpstreamTimeout(name, f"{name} did not answer in time.") from exc
        except requests.ConnectionError as exc:
            if _never_connected(exc):
                error = UpstreamUnavailable(
                    name, f"{name} refused the connection.", request_sent=False
                )
            else:
                error = UpstreamUnavailable(name, f"{name} closed the connection.")
            raise _Failed(error) from exc
        if response.status_code in RETRYABLE_STATUSES:
            raise _Failed(UpstreamResponseError(name, response), response)
        return response


def _never_connected(exc: requests.ConnectionError) -> bool:
    """Whether no connection was made (refused, unresolvable), so nothing was sent."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(reason, NewConnectionError)
