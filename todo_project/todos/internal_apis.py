"""``/internal/users/{id}/...``: the account-deletion saga's calls (service tokens only)."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from servicekit.authentication import IsServiceClient

from todos import erasure
from todos.models import Erasure
from todos.serializers import ErasureSerializer, SagaInputSerializer

ERASE_SCOPE = "todos:erase"


class _SagaStepApi(APIView):
    permission_classes = [IsServiceClient]
    required_scope = ERASE_SCOPE
    step: Callable[..., Erasure]

    @extend_schema(request=SagaInputSerializer, responses=ErasureSerializer)
    def post(self, request: Request, user_id: int) -> Response:
        serializer = SagaInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        saga_id: UUID = serializer.validated_data["saga_id"]
        result = type(self).step(user_id=user_id, saga_id=saga_id)
        return Response(ErasureSerializer(result).data)


class UserTodosEraseApi(_SagaStepApi):
    """Hide all of the user's todos (idempotent by saga id)."""

    step = staticmethod(erasure.user_todos_erase)


class UserTodosRestoreApi(_SagaStepApi):
    """Compensation of erase: bring the todos back."""

    step = staticmethod(erasure.user_todos_restore)


class UserTodosPurgeApi(_SagaStepApi):
    """After the account is deleted: delete the archived todos for good."""

    step = staticmethod(erasure.user_todos_purge)
