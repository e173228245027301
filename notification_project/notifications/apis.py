"""HTTP API: the caller's notifications and preferences (docs/spec/api.md, "Notifications").

The caller is the end user of a user-service access token (stateless: no user
table here). Views only validate, call one selector or service, and serialize.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from servicekit.authentication import BearerTokenAuthentication, IsEndUser, TokenUser

from notifications import selectors, services
from notifications.models import Notification
from notifications.serializers import (
    NOTIFICATION_FIELDS,
    NotificationSerializer,
    PreferenceSerializer,
    notification_rows,
)


def caller_id(request: Request) -> int:
    """The id of the person whose access token came with the request (IsEndUser let it in)."""
    if not isinstance(request.user, TokenUser):
        raise exceptions.NotAuthenticated()
    return request.user.id


def _readable(notifications: QuerySet[Notification]) -> QuerySet[Notification]:
    # Only the columns the API shows: not the event envelope (JSON, the largest column).
    return notifications.only(*NOTIFICATION_FIELDS)


class NotificationListApi(generics.ListAPIView):
    """The caller's notifications, newest first."""

    # Only a person's access token; service tokens and anonymous callers are refused.
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsEndUser]
    serializer_class = NotificationSerializer

    def get_queryset(self) -> QuerySet[Notification]:
        return selectors.notification_list(user_id=caller_id(self.request))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The page's rows as .values(), written by notification_rows: no model instance
        # and no serializer call per field (a fifth of the CPU of a page of 20).
        page = self.paginate_queryset(self.get_queryset().values(*NOTIFICATION_FIELDS))
        return self.get_paginated_response(notification_rows(page or []))


class NotificationDetailApi(generics.RetrieveAPIView):
    """One of the caller's notifications; anybody else's is a 404, never a 403."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsEndUser]
    serializer_class = NotificationSerializer

    def get_queryset(self) -> QuerySet[Notification]:
        return _readable(selectors.notification_list(user_id=caller_id(self.request)))


class PreferenceApi(APIView):
    """The caller's email preferences."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsEndUser]

    @extend_schema(responses=PreferenceSerializer)
    def get(self, request: Request) -> Response:
        preference = selectors.preference_get(user_id=caller_id(request))
        return Response(PreferenceSerializer(preference).data)

    @extend_schema(
        request=PreferenceSerializer,
        responses={
            200: PreferenceSerializer,
            409: OpenApiResponse(description="The account is being deleted."),
        },
    )
    def patch(self, request: Request) -> Response:
        serializer = PreferenceSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "email_on_todo_completed" in serializer.validated_data:
            preference = services.preference_update(
                user_id=caller_id(request),
                email_on_todo_completed=serializer.validated_data["email_on_todo_completed"],
            )
        else:
            preference = selectors.preference_get(user_id=caller_id(request))
        return Response(PreferenceSerializer(preference).data)
