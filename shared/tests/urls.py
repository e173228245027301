"""The test URLconf: servicekit's health URLs plus views that fail in every way."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from rest_framework.decorators import (
    api_view,
    authentication_classes,
    permission_classes,
)
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from saga_app.saga import NotesSagaApi

from servicekit.authentication import (
    BearerTokenAuthentication,
    IsEndUser,
    IsServiceClient,
    ServiceClient,
    TokenUser,
)
from servicekit.exceptions import Conflict, ServiceError
from servicekit.saga.apis import saga_step_urls
from servicekit.urls import health_urlpatterns, metrics_urlpatterns, optional_slash

view_logger = logging.getLogger("servicekit_tests.views")


class QuotaExceeded(ServiceError):
    status_code = 429
    default_detail = "Too many todos."
    default_code = "quota_exceeded"


@api_view(["GET"])
@authentication_classes([])
@permission_classes([])
def database_query(request: Request, alias: str) -> Response:
    """A query on the database ``alias``: a 503 when that database cannot be reached."""
    from django.db import connections

    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")
    return Response({"ok": True})


@api_view(["GET"])
def field_error(request: Request) -> Response:
    raise ValidationError({"title": ["This field is required."]})


@api_view(["GET"])
def plain_error(request: Request) -> Response:
    raise ValidationError("plain message")


@api_view(["GET"])
def list_error(request: Request) -> Response:
    raise ValidationError(["First problem.", "Second problem."])


@api_view(["GET"])
def quota_error(request: Request) -> Response:
    raise QuotaExceeded()


@api_view(["GET"])
def conflict_error(request: Request) -> Response:
    raise Conflict()


@api_view(["GET"])
def custom_service_error(request: Request) -> Response:
    raise ServiceError("Title is taken.", code="title_taken")


@api_view(["GET"])
def not_found_error(request: Request) -> Response:
    raise NotFound()


@api_view(["GET"])
def django_http404(request: Request) -> Response:
    # What get_object_or_404() raises inside a DRF view.
    raise Http404("No Todo matches the given query.")


@api_view(["GET"])
def crash(request: Request) -> Response:
    view_logger.info("about to crash")
    raise RuntimeError("boom")


@api_view(["POST"])
def echo(request: Request) -> Response:
    view_logger.info("echo called")
    return Response({"received": request.data})


@api_view(["GET"])
def whoami(request: Request) -> Response:
    return Response({"user_id": request.user.pk})


@api_view(["GET"])
@authentication_classes([BearerTokenAuthentication])
@permission_classes([IsEndUser])
def me(request: Request) -> Response:
    user = request.user
    assert isinstance(user, TokenUser)
    return Response({"id": user.pk, "username": user.username, "is_staff": user.is_staff})


@api_view(["GET"])
@authentication_classes([BearerTokenAuthentication])
@permission_classes([IsServiceClient])
def internal(request: Request) -> Response:
    assert isinstance(request.user, ServiceClient)
    return Response({"client_id": request.user.client_id})


def django_permission_denied(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def django_suspicious(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation("forged host")


urlpatterns = [
    path("db/<str:alias>", database_query),
    *health_urlpatterns,
    *metrics_urlpatterns,
    *optional_slash("errors/field", field_error, name="field-error"),
    *optional_slash("errors/plain", plain_error),
    *optional_slash("errors/list", list_error),
    *optional_slash("errors/quota", quota_error),
    *optional_slash("errors/conflict", conflict_error),
    *optional_slash("errors/custom", custom_service_error),
    *optional_slash("errors/not-found", not_found_error),
    *optional_slash("errors/http404", django_http404),
    *optional_slash("errors/crash", crash),
    *optional_slash("errors/forbidden", django_permission_denied),
    *optional_slash("errors/suspicious", django_suspicious),
    *optional_slash("echo/", echo, name="echo"),
    *optional_slash("whoami", whoami),
    *optional_slash("me", me),
    *optional_slash("internal/ping", internal),
    *saga_step_urls(NotesSagaApi, name="internal-user-notes"),
]

handler400 = "servicekit.exceptions.bad_request"
handler403 = "servicekit.exceptions.permission_denied"
handler404 = "servicekit.exceptions.page_not_found"
handler500 = "servicekit.exceptions.server_error"
