"""``POST /internal/users/<user_id>/{erase|restore|purge}``: for service tokens only.

Body ``{"saga_id": "<uuid>"}`` (400 when missing or not a UUID string); 200
with the erasure record, on the first call and on every repeat; 409
``saga_conflict`` when the step contradicts what happened; 401 without a
token, 403 for a user's token or a service token without ``required_scope``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.urls import URLPattern
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from servicekit.authentication import BearerTokenAuthentication, IsServiceClient
from servicekit.saga.participant import STEPS, SagaParticipant, Step
from servicekit.saga.serializers import SagaInputSerializer
from servicekit.urls import optional_slash


class SagaStepApi(APIView):
    """One step of the account-deletion saga; ``step`` comes from the route."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [IsServiceClient]
    # Set by the service's subclass:
    required_scope: ClassVar[str]
    participant: ClassVar[SagaParticipant[Any]]
    output_serializer_class: ClassVar[type[BaseSerializer[Any]]]
    # Set per route by saga_step_urls (``as_view(step=...)``).
    step: Step = "erase"

    def post(self, request: Request, user_id: int) -> Response:
        serializer = SagaInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = self.participant.run(
            self.step, user_id=user_id, saga_id=serializer.validated_data["saga_id"]
        )
        return Response(self.output_serializer_class(result).data)


def saga_step_urls(view: type[SagaStepApi], *, name: str) -> list[URLPattern]:
    """The three routes, named ``<name>-erase``, ``<name>-restore`` and ``<name>-purge``."""
    return [
        pattern
        for step in STEPS
        for pattern in optional_slash(
            f"internal/users/<int:user_id>/{step}", view.as_view(step=step), name=f"{name}-{step}"
        )
    ]
