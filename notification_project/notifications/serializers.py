from rest_framework import serializers
from servicekit.saga import serializers as saga_serializers
from servicekit.serializers import ModelSerializer

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


class PreferenceSerializer(serializers.Serializer):
    email_on_todo_completed = serializers.BooleanField(
        help_text="Send an email when one of my todos is completed."
    )


class ErasureSerializer(saga_serializers.ErasureSerializer):
    class Meta(saga_serializers.ErasureSerializer.Meta):
        model = Erasure
        fields = [*saga_serializers.ErasureSerializer.Meta.fields, "notifications", "preferences"]
        read_only_fields = fields
