"""One error shape everywhere: ``{"detail": "...", "code": "..."}``.

Field validation errors keep DRF's ``{"field": ["message", ...]}`` shape.
Domain errors subclass :class:`ServiceError` (a DRF ``APIException`` with a
status and a code). The Django-level handlers (``handler404`` and friends)
answer in the same shape, so even an unknown path gets JSON.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ServiceError(exceptions.APIException):
    """Base for domain errors.

    Subclasses set ``status_code``, ``default_detail`` and ``default_code``.
    """

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_detail = "The request could not be carried out."
    default_code = "error"


class Conflict(ServiceError):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus a ``code`` next to every ``detail``.

    Exceptions DRF does not know are left to Django (``None``), which logs the
    traceback with the request id and answers through :func:`server_error`.
    """
    # DRF turns Django's own exceptions (get_object_or_404, PermissionDenied)
    # into API exceptions internally; do it here so they get a code as well.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    if isinstance(exc, exceptions.ValidationError):
        if not isinstance(response.data, dict):
            # ValidationError("message") without a field: give it the common shape.
            messages = response.data if isinstance(response.data, list) else [response.data]
            codes = exc.get_codes()
            code = codes[0] if isinstance(codes, list) and codes else "invalid"
            response.data = {"detail": " ".join(str(m) for m in messages), "code": code}
        return response
    if isinstance(response.data, dict) and "detail" in response.data:
        codes = exc.get_codes()
        response.data["code"] = codes if isinstance(codes, str) else exc.default_code
    return response


def _error(status_code: int, detail: str, code: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "code": code}, status=status_code)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _error(400, "Bad request.", "bad_request")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _error(403, "You do not have permission to perform this action.", "permission_denied")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return _error(404, f"No route for {request.path}.", "not_found")


def server_error(request: HttpRequest) -> JsonResponse:
    request_id = getattr(request, "request_id", None)
    detail = "Internal server error."
    if request_id:
        detail += f" Quote request id {request_id} when reporting it."
    return _error(500, detail, "server_error")
