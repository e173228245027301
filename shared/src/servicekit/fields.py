"""Serializer fields the services share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings


class UTCDateTimeField(serializers.DateTimeField):
    """An aware datetime as ISO 8601 in UTC, ``2026-12-07T10:00:00.123456Z``: what DRF's
    own field writes when the time zone is UTC, as every service's is, without its two
    time-zone lookups per value (a page of 20 todos has 60 of these)."""

    def to_representation(self, value: Any) -> Any:
        output_format = getattr(self, "format", api_settings.DATETIME_FORMAT)
        if output_format != ISO_8601 or not isinstance(value, datetime) or value.tzinfo is None:
            return super().to_representation(value)
        text = value.astimezone(UTC).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
