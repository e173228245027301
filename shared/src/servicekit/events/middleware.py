"""Carries the request's W3C ``traceparent`` into the events the request causes."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from servicekit.events import TRACEPARENT_RE, traceparent_var


class TraceContextMiddleware:
    """Puts a well-formed ``traceparent`` header in :data:`traceparent_var` for the request.

    Malformed values are ignored (W3C Trace Context says to restart the trace).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_TRACEPARENT", "").strip().lower()
        token = traceparent_var.set(incoming if TRACEPARENT_RE.match(incoming) else None)
        try:
            return self.get_response(request)
        finally:
            traceparent_var.reset(token)
