from collections.abc import Iterable
from typing import Any

from rest_framework import serializers
from servicekit.saga import serializers as saga_serializers
from servicekit.serializers import ModelSerializer, utc_iso

from notifications.models import Erasure, Notification


class NotificationSerializer(ModelSerializer):
    # Empty when no email went out (skipped: opted out, no address): not an email field.
    recipient = serializers.CharField(read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "event_id",
            "event_type",
            "channel",
            "recipient",
            "subject",
            "status",
            "attempts",
            "created_at",
            "sent_at",
        ]
        read_only_fields = fields


# The list's rows, written without a serializer per row, as GET /todos does: the page is
# read with .values() and each row written by notification_rows, exactly what
# NotificationSerializer writes (tests/test_serializers.py compares them).
NOTIFICATION_FIELDS: tuple[str, ...] = tuple(NotificationSerializer.Meta.fields)


def notification_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """``.values(*NOTIFICATION_FIELDS)`` rows as the API's notification objects."""
    return [
        {
            **row,
            "created_at": utc_iso(row["created_at"]),
            "sent_at": row["sent_at"] and utc_iso(row["sent_at"]),
        }
        for row in rows
    ]


class PreferenceSerializer(serializers.Serializer):
    email_on_todo_completed = serializers.BooleanField(
        help_text="Send an email when one of my todos is completed."
    )


class ErasureSerializer(saga_serializers.ErasureSerializer):
    class Meta(saga_serializers.ErasureSerializer.Meta):
        model = Erasure
        fields = [*saga_serializers.ErasureSerializer.Meta.fields, "notifications", "preferences"]
        read_only_fields = fields
