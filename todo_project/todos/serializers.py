"""What goes in and out of the API. Input fields are strict about JSON types:
``"title": 5`` or ``"completed": "yes"`` is a 400, not silently converted. The
browsable API's HTML form is the one exception: a form has nothing but strings,
and its checkbox sends ``"true"`` (servicekit.browsable.HTMLForms)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.utils import html
from servicekit.saga import serializers as saga_serializers
from servicekit.serializers import ModelSerializer, utc_iso

from todos.models import Erasure, Priority, Todo
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

    def get_value(self, dictionary: Any) -> Any:
        value = super().get_value(dictionary)
        if html.is_html_input(dictionary) and value is not empty and isinstance(value, str):
            return value == "true"  # a form: the checkbox's value when checked
        return value

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


class TodoSerializer(ModelSerializer):
    """The todo object of docs/spec/api.md, "Todos" (output)."""

    priority = PriorityField()

    class Meta:
        model = Todo
        fields = [
            "id",
            "title",
            "description",
            "completed",
            "priority",
            "due_date",
            "user_id",
            "created_at",
            "updated_at",
            "completed_at",
        ]
        read_only_fields = fields


# The list's rows, written without a serializer per row: GET /todos reads the page with
# .values() and writes each todo with todo_rows. It must write exactly what TodoSerializer
# writes (todos/tests/test_serializers.py compares them); skipping the model instances
# and DRF's per-field calls is about a fifth of the CPU of a page of 20.
TODO_FIELDS: tuple[str, ...] = tuple(TodoSerializer.Meta.fields)
_PRIORITY_LABELS = {int(priority): str(priority.label) for priority in Priority}


def todo_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``.values(*TODO_FIELDS)`` rows as the API's todo objects."""
    return [
        {
            **row,
            "priority": _PRIORITY_LABELS[row["priority"]],
            "due_date": row["due_date"] and row["due_date"].isoformat(),
            "created_at": utc_iso(row["created_at"]),
            "updated_at": utc_iso(row["updated_at"]),
            "completed_at": row["completed_at"] and utc_iso(row["completed_at"]),
        }
        for row in rows
    ]


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
