"""Forwarding one request to a service: headers, retries, breaker, errors.

The rules (docs/spec/api.md, "Header hygiene", "Retries" and "Timeouts and upstream errors"):

- hop-by-hop headers are not forwarded, either way; what a client says about
  ``X-User-ID``, ``X-Forwarded-*`` (and ``Forwarded``, ``X-Real-IP``) is dropped
  and the gateway sets its own, so a service can trust them and build links
  that point at the gateway;
- a request is retried only when that cannot do harm: idempotent methods, or a
  POST carrying an ``Idempotency-Key``; only after a failed connect or a
  502/503/504; at most twice; on another instance when there is one;
- a refused or unreachable service is a 503 naming it, a slow one a 504 after
  ``GATEWAY_UPSTREAM_TIMEOUT``, a broken response a 502; an open breaker is a
  503 with ``Retry-After`` without calling the service at all; a service's own
  503 with ``Retry-After`` (it is up, its database is not) does not open it.

Connections come from the instance's urllib3 pool (keep-alive, created once
per process). ``requests`` would cost about twice the CPU per call here.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field

import urllib3
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from servicekit.breaker import CircuitBreakerError, service_is_up
from servicekit.metrics.defs import UPSTREAM_REQUEST_DURATION, UPSTREAM_RETRIES
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from gateway.upstreams import Instance, Upstream

RETRYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRYABLE_STATUSES = frozenset({502, 503, 504})
MAX_RETRIES = 2

# RFC 9110 section 7.6.1 plus the ones proxies have always treated alike.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Request headers the gateway sets itself; a client's values never pass.
GATEWAY_SET = frozenset(
    {
        "host",
        "x-user-id",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-port",
        "x-forwarded-prefix",
        "forwarded",
        "x-real-ip",
        "x-request-id",
        "traceparent",
        "content-length",
        "x-gateway-csrf-token",  # servicekit.browsable: the page's CSRF token
    }
)
# Response headers the gateway's own server writes (or that would be wrong once relayed).
RESPONSE_DROPPED = HOP_BY_HOP | {"content-length", "date", "server", "x-request-id"}

_TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


class UpstreamFailed(Exception):
    """Base of what can go wrong with an upstream; each becomes a JSON error response."""

    status = 502
    code = "bad_gateway"

    def __init__(self, service: str, detail: str, instance: Instance | None = None) -> None:
        super().__init__(detail)
        self.service, self.detail, self.instance = service, detail, instance

    def response(self) -> HttpResponse:
        body = {"detail": self.detail, "code": self.code, "service": self.service}
        return JsonResponse(body, status=self.status)


class ConnectFailed(UpstreamFailed):
    status = 503
    code = "upstream_unavailable"


class TimedOut(UpstreamFailed):
    status = 504
    code = "upstream_timeout"


class BadResponse(UpstreamFailed):
    pass


class CircuitOpen(UpstreamFailed):
    """The breaker is open: answered at once, without calling the service."""

    status = 503
    code = "circuit_open"

    def __init__(self, upstream: Upstream) -> None:
        name = upstream.name
        super().__init__(name, f"{name} is unavailable (circuit breaker open); retry later.")
        self.retry_after = upstream.breaker.retry_after()

    def response(self) -> HttpResponse:
        response = super().response()
        response["Retry-After"] = str(self.retry_after)
        return response


class UnavailableResponse(UpstreamFailed):
    """The service answered 502/503/504 itself: relayed as it is, after the retries."""

    def __init__(self, service: str, response: HttpResponse, instance: Instance) -> None:
        super().__init__(service, f"{service} answered {response.status_code}.", instance)
        self._response = response

    def response(self) -> HttpResponse:
        return self._response

    @property
    def service_is_up(self) -> bool:
        return service_is_up(self._response.status_code, self._response.headers)


@dataclass
class Outcome:
    response: HttpResponse
    instance: Instance | None = None
    attempts: list[str] = field(default_factory=list)


def forward(
    request: HttpRequest,
    upstream: Upstream,
    *,
    user_id: object = None,
    extra_headers: dict[str, str] | None = None,
) -> Outcome:
    """Send ``request`` to ``upstream`` and return what to answer the client.

    ``extra_headers`` are the gateway's own, set last (a browser session's CSRF
    token for the service's page, gateway.browser).
    """
    body = request.body
    headers = upstream_headers(request, user_id=user_id)
    if extra_headers:
        headers.update(extra_headers)
    method = request.method or "GET"
    retryable = method in RETRYABLE_METHODS or (
        method == "POST" and "HTTP_IDEMPOTENCY_KEY" in request.META
    )
    return exchange(upstream, method, request.get_full_path(), body, headers, retryable=retryable)


def exchange(
    upstream: Upstream,
    method: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    retryable: bool,
) -> Outcome:
    """One request to ``upstream`` with the rules above: a client's, or the gateway's own
    (a browser session's login, refresh and logout at user-service, gateway.browser)."""
    outcome = Outcome(response=HttpResponse(status=502))

    def attempts() -> HttpResponse:
        tried: tuple[Instance, ...] = ()
        last: UpstreamFailed | None = None
        for _ in range(1 + (MAX_RETRIES if retryable else 0)):
            instance = upstream.pick(exclude=tried)
            if instance is None:
                # No other instance: a response failure may be retried on the same one,
                # a connect failure may not (it was just ejected and would fail again).
                if isinstance(last, ConnectFailed) or not tried:
                    break
                instance = tried[-1]
            if tried:
                UPSTREAM_RETRIES.labels(upstream.name).inc()
            tried += (instance,)
            outcome.instance = instance
            outcome.attempts.append(instance.url)
            try:
                return _send(upstream, instance, method, url, body, headers)
            except (ConnectFailed, BadResponse, UnavailableResponse) as exc:
                last = exc
            # TimedOut is not retried: the client would wait past the timeout.
        assert last is not None  # noqa: S101 - the loop runs at least once
        if isinstance(last, UnavailableResponse) and last.service_is_up:
            return last.response()  # relayed, and a success as far as the breaker goes
        raise last

    try:
        outcome.response = upstream.breaker.call(attempts)
    except CircuitBreakerError:
        outcome.response = CircuitOpen(upstream).response()
    except UpstreamFailed as exc:
        outcome.response = exc.response()
    return outcome


def _send(
    upstream: Upstream,
    instance: Instance,
    method: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
) -> HttpResponse:
    name = upstream.name
    started = time.perf_counter()
    try:
        raw = instance.pool.urlopen(
            method,
            url,
            body=body or None,
            headers={**headers, "Host": instance.host_header},
            retries=False,
            redirect=False,
            assert_same_host=False,
            preload_content=True,
            decode_content=False,
        )
    except NewConnectionError as exc:
        _observe(name, "connect_error", started)
        instance.eject(upstream.eject_seconds)
        raise ConnectFailed(name, f"{name} refused the connection.", instance) from exc
    except ConnectTimeoutError as exc:
        _observe(name, "connect_error", started)
        instance.eject(upstream.eject_seconds)
        raise ConnectFailed(name, f"{name} is unreachable.", instance) from exc
    except ReadTimeoutError as exc:
        _observe(name, "timeout", started)
        timeout = settings.GATEWAY_UPSTREAM_TIMEOUT
        raise TimedOut(name, f"{name} did not answer within {timeout:g} s.", instance) from exc
    except (ProtocolError, HTTPError) as exc:
        _observe(name, "bad_response", started)
        raise BadResponse(name, f"{name} sent no valid response.", instance) from exc
    _observe(name, str(raw.status), started)
    response = client_response(raw)
    if raw.status in RETRYABLE_STATUSES:
        raise UnavailableResponse(name, response, instance)
    return response


def _observe(upstream: str, outcome: str, started: float) -> None:
    UPSTREAM_REQUEST_DURATION.labels(upstream, outcome).observe(time.perf_counter() - started)


def upstream_headers(request: HttpRequest, *, user_id: object = None) -> dict[str, str]:
    """The request's end-to-end headers, cleaned, plus the ones the gateway vouches for."""
    meta = request.META
    connection_listed = {
        token.strip().lower() for token in meta.get("HTTP_CONNECTION", "").split(",")
    }
    headers: dict[str, str] = {}
    for key, value in meta.items():
        if not key.startswith("HTTP_"):
            continue
        name = key[5:].replace("_", "-").lower()
        if (
            name in HOP_BY_HOP
            or name in GATEWAY_SET
            or name in connection_listed
            or name.startswith("x-forwarded-")
        ):
            continue
        headers[name] = value
    if meta.get("CONTENT_TYPE"):
        headers["content-type"] = meta["CONTENT_TYPE"]
    headers["x-forwarded-for"] = meta.get("REMOTE_ADDR", "")
    headers["x-forwarded-proto"] = request.scheme or "http"
    headers["x-forwarded-host"] = request.get_host()
    headers["x-request-id"] = getattr(request, "request_id", "")
    headers["traceparent"] = traceparent(meta.get("HTTP_TRACEPARENT", ""))
    if user_id is not None:
        headers["x-user-id"] = str(user_id)
    return headers


def traceparent(incoming: str) -> str:
    """A valid incoming W3C ``traceparent`` as it is; a new one (sampled) otherwise."""
    match = _TRACEPARENT_RE.match(incoming)
    if match and set(match.group(1)) != {"0"} and set(match.group(2)) != {"0"}:
        return incoming
    return f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01"


def client_response(raw: urllib3.BaseHTTPResponse) -> HttpResponse:
    """The service's response as a Django response, hop-by-hop headers left behind."""
    response = HttpResponse(raw.data, status=raw.status)
    del response["Content-Type"]
    connection_listed = {
        token.strip().lower() for token in raw.headers.get("Connection", "").split(",")
    }
    for name, value in raw.headers.items():
        lowered = name.lower()
        if lowered in RESPONSE_DROPPED or lowered in connection_listed:
            continue
        if lowered in response.headers:
            response.headers[name] = f"{response.headers[name]}, {value}"
        else:
            response.headers[name] = value
    response["Content-Length"] = str(len(raw.data))
    return response


def send_get(upstream: Upstream, path: str, request: HttpRequest) -> HttpResponse:
    """One GET of ``path`` on the next instance, with the request's forwarding headers."""
    instance = upstream.pick()
    assert instance is not None  # noqa: S101 - pick() without exclusions always finds one
    headers = upstream_headers(request)
    headers.pop("authorization", None)
    return _send(upstream, instance, "GET", path, b"", headers)
