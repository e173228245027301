from __future__ import annotations

from rest_framework import serializers

from sagas.models import Saga, SagaStep


class SagaStepSerializer(serializers.ModelSerializer):
    started_at = serializers.DateTimeField(source="first_attempted_at", read_only=True)
    duration_ms = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = SagaStep
        fields = [
            "name",
            "direction",
            "status",
            "attempts",
            "started_at",
            "finished_at",
            "duration_ms",
            "last_error",
        ]


class SagaSerializer(serializers.ModelSerializer):
    saga_id = serializers.UUIDField(source="id", read_only=True)
    steps = SagaStepSerializer(many=True, read_only=True)

    class Meta:
        model = Saga
        fields = ["saga_id", "status", "reason", "created_at", "finished_at", "steps"]
