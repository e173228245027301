"""The saga calls' body and answer."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from servicekit.serializers import ModelSerializer


class StrictUUIDField(serializers.UUIDField):
    """Only the string form: DRF would also take an integer as ``UUID(int=...)``."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class SagaInputSerializer(serializers.Serializer):
    saga_id = StrictUUIDField(help_text="The saga's id; every step is idempotent by it.")


class ErasureSerializer(ModelSerializer):
    """The erasure record; a service's subclass names its model and adds its count fields::

    class Meta(ErasureSerializer.Meta):
        model = Erasure
        fields = [*ErasureSerializer.Meta.fields, "todos"]
        read_only_fields = fields
    """

    class Meta:
        fields: list[str] = ["saga_id", "user_id", "status"]
        read_only_fields = fields
