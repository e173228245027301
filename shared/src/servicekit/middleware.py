"""Request id, body limits (size and time) and access log, as plain Django middleware."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.utils.functional import empty

from servicekit.context import request_id_var
from servicekit.metrics.defs import HTTP_REQUEST_DURATION, HTTP_REQUESTS
from servicekit.settings import servicekit_settings

access_logger = logging.getLogger("servicekit.access")
logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"


def sane_request_id(value: str) -> bool:
    """At most ``REQUEST_ID_MAX_LENGTH`` visible ASCII characters, nothing else."""
    return (
        0 < len(value) <= servicekit_settings.REQUEST_ID_MAX_LENGTH
        and value.isascii()
        and value.isprintable()
        and " " not in value
    )


class RequestIdMiddleware:
    """Takes the caller's ``X-Request-ID`` if it is sane, otherwise makes one.

    The id is put on ``request.request_id``, in a context variable that every
    log record reads, and on the response.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if sane_request_id(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class BodySizeLimitMiddleware:
    """413 for a declared body larger than ``MAX_BODY_BYTES``, before any view reads it;
    408 when the body stops arriving while a view reads it (the server's stall
    deadline, servicekit.server, fails the read and Django raises
    ``UnreadablePostError``). The access log line records either, once."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = servicekit_settings.MAX_BODY_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse(
                {"detail": "Content-Length is not a number.", "code": "bad_content_length"},
                status=400,
            )
        if length > limit:
            return JsonResponse(
                {
                    "detail": f"Request body is {length} bytes; the limit is {limit} bytes.",
                    "code": "request_too_large",
                },
                status=413,
            )
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, UnreadablePostError):
            return None
        return JsonResponse(
            {
                "detail": "The request body stopped arriving before it was complete.",
                "code": "request_timeout",
            },
            status=408,
        )


class DatabaseUnavailableMiddleware:
    """503 ``database_unavailable`` when the database cannot be reached, not a 500.

    A database that restarts or fails over is an outage the caller may wait
    out (the gateway retries an idempotent request on a 503), not a bug:
    ``OperationalError`` (the server is gone, a connection broke, a deadlock
    was broken) and ``InterfaceError`` (a connection already closed) say so.
    The broken connection is dropped at the end of the request, and the next
    request opens a new one.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning("database_unavailable", extra={"error": str(exception).strip()[:300]})
        response = JsonResponse(
            {
                "detail": "The service cannot reach its database; try again in a moment.",
                "code": "database_unavailable",
            },
            status=503,
        )
        response["Retry-After"] = "1"
        return response


class AccessLogMiddleware:
    """One log line per request: method, path, status, duration_ms, user_id.

    A view may add fields through a ``request.access_log`` dict (the gateway
    adds the upstream and instance it used). The same timing feeds the
    ``http_requests_total`` and ``http_request_duration_seconds`` metrics, by
    route: the URL pattern that matched (or ``request.metrics_route``, which a
    catch-all view such as the gateway's may set), never the raw path.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        duration_ms = round(seconds * 1000, 2)
        labels = (_method(request), _route(request), str(response.status_code))
        HTTP_REQUESTS.labels(*labels).inc()
        HTTP_REQUEST_DURATION.labels(*labels).observe(seconds)
        access_logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
                "user_id": _authenticated_user_id(request),
                **getattr(request, "access_log", {}),
            },
        )
        return response


# Any token is a valid HTTP method; a label may only take a few values.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _method(request: HttpRequest) -> str:
    method = request.method or ""
    return method if method in KNOWN_METHODS else "other"


def _route(request: HttpRequest) -> str:
    route = getattr(request, "metrics_route", None)
    if route:
        return str(route)
    match = request.resolver_match
    if match is None:
        return "unmatched"
    route = match.route or ""
    return route if route.startswith("^") else "/" + route


def _authenticated_user_id(request: HttpRequest) -> object:
    """The user id if authentication already ran; never triggers a session lookup."""
    user = request.__dict__.get("user")
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is empty or not getattr(wrapped, "is_authenticated", False):
        return None
    return getattr(wrapped, "pk", None) or getattr(wrapped, "id", None)
