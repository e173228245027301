"""The Todo API (docs/spec/api.md, "Todos"). Views validate, call one service or selector,
serialize."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from servicekit.authentication import TokenUser
from servicekit.browsable import HTMLForms
from servicekit.pagination import PageNumberPagination

from todos import idempotency, selectors, services
from todos.serializers import (
    TODO_FIELDS,
    TodoFilterSerializer,
    TodoInputSerializer,
    TodoSerializer,
    TodoStatsSerializer,
    todo_rows,
)


def _user_id(request: Request) -> int:
    user = request.user
    assert isinstance(user, TokenUser)  # noqa: S101 - guaranteed by IsEndUser (the default permission)
    return user.id


class TodoListCreateApi(HTMLForms, APIView):
    form_serializer = TodoInputSerializer
    # Read by drf-spectacular too: the schema shows the page ({"count", "next", ...}).
    pagination_class = PageNumberPagination

    @extend_schema(
        parameters=[TodoFilterSerializer],
        responses=TodoSerializer(many=True),
        summary="The caller's todos, newest first",
    )
    def get(self, request: Request) -> Response:
        filters = TodoFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        todos = selectors.todo_list(user_id=_user_id(request), **filters.validated_data)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(todos.values(*TODO_FIELDS), request, view=self)
        return paginator.get_paginated_response(todo_rows(page or []))

    @extend_schema(
        request=TodoInputSerializer,
        responses={
            201: TodoSerializer,
            422: OpenApiResponse(description="The Idempotency-Key came with another body."),
        },
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {
                    "type": "string",
                    "pattern": "^[!-~]+$",  # visible ASCII, no spaces (idempotency.check_key)
                    "maxLength": idempotency.KEY_MAX_LENGTH,
                },
                OpenApiParameter.HEADER,
                description="Repeat the request safely: the same key and body within 24 h "
                "return the first response; another body under the key is a 422.",
            )
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = TodoInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user_id = _user_id(request)

        def create() -> tuple[int, dict[str, Any]]:
            todo = services.todo_create(user_id=user_id, **serializer.validated_data)
            return status.HTTP_201_CREATED, dict(TodoSerializer(todo).data)

        key = request.headers.get("Idempotency-Key")
        if key is None:
            status_code, body = create()
            return Response(body, status=status_code)
        stored = idempotency.idempotent(
            user_id=user_id,
            key=idempotency.check_key(key),
            body_hash=idempotency.request_hash(request.data),
            respond=create,
        )
        headers = {"Idempotent-Replayed": "true"} if stored.replayed else {}
        return Response(stored.body, status=stored.status_code, headers=headers)


class TodoDetailApi(HTMLForms, APIView):
    form_serializer = TodoInputSerializer

    @extend_schema(responses=TodoSerializer)
    def get(self, request: Request, todo_id: int) -> Response:
        todo = selectors.todo_get(user_id=_user_id(request), todo_id=todo_id)
        return Response(TodoSerializer(todo).data)

    @extend_schema(request=TodoInputSerializer(partial=True), responses=TodoSerializer)
    def patch(self, request: Request, todo_id: int) -> Response:
        todo = selectors.todo_get(user_id=_user_id(request), todo_id=todo_id)
        serializer = TodoInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        todo = services.todo_update(todo=todo, changes=serializer.validated_data)
        return Response(TodoSerializer(todo).data)

    # Every field of an update is optional, for PUT as for PATCH: PUT is partial too.
    put = patch

    @extend_schema(responses={204: None})
    def delete(self, request: Request, todo_id: int) -> Response:
        todo = selectors.todo_get(user_id=_user_id(request), todo_id=todo_id)
        services.todo_delete(todo=todo)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TodoCompleteApi(APIView):
    @extend_schema(request=None, responses=TodoSerializer, summary="Complete a todo (idempotent)")
    def post(self, request: Request, todo_id: int) -> Response:
        todo = selectors.todo_get(user_id=_user_id(request), todo_id=todo_id)
        todo = services.todo_complete(todo=todo)
        return Response(TodoSerializer(todo).data)

    put = post


class TodoStatsApi(APIView):
    @extend_schema(responses=TodoStatsSerializer)
    def get(self, request: Request) -> Response:
        return Response(selectors.todo_stats(user_id=_user_id(request)))
