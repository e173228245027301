"""How a participant's OpenAPI schema (drf-spectacular) describes its saga steps.

Only participants that document their API import this module (it imports
drf-spectacular, which servicekit itself does not require).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.serializers import Serializer


def document_saga_step(output: type[Serializer]) -> Any:
    """Class decorator for a :class:`~servicekit.saga.apis.SagaStepApi`: its POST takes
    the saga's input and answers ``output``, or 409 when the step contradicts an earlier one."""
    from servicekit.saga.serializers import SagaInputSerializer  # needs the apps loaded

    return extend_schema_view(
        post=extend_schema(
            request=SagaInputSerializer,
            responses={
                200: output,
                409: OpenApiResponse(description="The step contradicts an earlier one."),
            },
        )
    )
