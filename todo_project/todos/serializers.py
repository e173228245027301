"""What goes in and out of the API. Input fields are strict about JSON types:
``"title": 5`` or ``"completed": "yes"`` is a 400, not silently converted."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from servicekit.fields import UTCDateTimeField
from servicekit.saga import serializers as saga_serializers

from todos.models import Erasure, Priority
from todos.selectors import DEFAULT_ORDERING, ORDERINGS

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 5000


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class PriorityField(serializers.ChoiceField):
    """``"low" | "normal" | "high"`` on the wire, :class:`Priority` (a small integer) inside."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[label for _, label in Priority.choices], **kwargs)

    def to_internal_value(self, data: Any) -> Any:  # a Priority
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        label = super().to_internal_value(data)
        return Priority[label.upper()]

    def to_representation(self, value: Any) -> str:
        return str(Priority(value).label)


class TodoSerializer(serializers.Serializer):
    """The todo object of docs/spec/api.md, "Todos" (output)."""

    # Declared, not derived from the model: a ModelSerializer reads the model's fields
    # again for every response, about a tenth of the CPU of a page of 20.
    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    completed = serializers.BooleanField(read_only=True)
    priority = PriorityField()
    due_date = serializers.DateField(read_only=True, allow_null=True)
    user_id = serializers.IntegerField(read_only=True)
    created_at = UTCDateTimeField(read_only=True)
    updated_at = UTCDateTimeField(read_only=True)
    completed_at = UTCDateTimeField(read_only=True, allow_null=True)


class TodoInputSerializer(serializers.Serializer):
    """POST, PUT and PATCH bodies. Unknown fields (``id``, ``user_id``, ``completed_at``) are
    ignored: a client cannot assign them."""

    title = StrictCharField(max_length=TITLE_MAX_LENGTH)
    description = StrictCharField(
        max_length=DESCRIPTION_MAX_LENGTH, allow_blank=True, required=False
    )
    completed = StrictBooleanField(required=False)
    priority = PriorityField(required=False)
    due_date = serializers.DateField(allow_null=True, required=False)


class TodoFilterSerializer(serializers.Serializer):
    """The query string of GET /todos; a bad value is a 400 naming the parameter."""

    completed = serializers.ChoiceField(choices=["true", "false"], required=False)
    priority = PriorityField(required=False)
    search = serializers.CharField(max_length=200, required=False, allow_blank=True)
    ordering = serializers.ChoiceField(
        choices=list(ORDERINGS), required=False, default=DEFAULT_ORDERING
    )

    def validate_completed(self, value: str) -> bool:
        return value == "true"


class TodoStatsSerializer(serializers.Serializer):
    total_todos = serializers.IntegerField()
    completed_todos = serializers.IntegerField()
    pending_todos = serializers.IntegerField()
    high_priority_todos = serializers.IntegerField()


class ErasureSerializer(saga_serializers.ErasureSerializer):
    class Meta(saga_serializers.ErasureSerializer.Meta):
        model = Erasure
        fields = [*saga_serializers.ErasureSerializer.Meta.fields, "todos"]
        read_only_fields = fields
