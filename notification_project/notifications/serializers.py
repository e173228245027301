from rest_framework import serializers

from notifications.models import Notification


class NotificationSerializer(serializers.ModelSerializer):
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
