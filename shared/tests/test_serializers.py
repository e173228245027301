"""servicekit.serializers: UTC datetimes as DRF writes them, model fields read once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework import serializers

from servicekit.serializers import ModelSerializer, UTCDateTimeField


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 7, 10, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC),
        datetime(2026, 12, 7, 23, 30, 5, 1, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_an_aware_datetime_is_written_as_drfs_own_field_writes_it(
    value: datetime, settings
) -> None:
    settings.USE_TZ, settings.TIME_ZONE = True, "UTC"

    written = UTCDateTimeField().to_representation(value)

    assert written == serializers.DateTimeField().to_representation(value)
    assert written.endswith("Z")


class AccountSerializer(ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "date_joined"]


def test_a_model_serializer_reads_its_model_once_and_binds_fresh_fields(monkeypatch) -> None:
    built: list[str] = []
    real_build_field = serializers.ModelSerializer.build_field

    def counting_build_field(self: Any, field_name: str, *args: Any) -> Any:
        built.append(field_name)
        return real_build_field(self, field_name, *args)

    monkeypatch.setattr(serializers.ModelSerializer, "build_field", counting_build_field)
    monkeypatch.setattr(AccountSerializer, "_fields_from_model", None)
    joined = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    account = User(id=3, username="ann", date_joined=joined)

    first, second = AccountSerializer(account), AccountSerializer(account)

    assert (
        first.data
        == second.data
        == {
            "id": 3,
            "username": "ann",
            "date_joined": "2026-12-07T10:00:00Z",
        }
    )
    assert built == ["id", "username", "date_joined"]  # once, for both
    assert first.fields["username"] is not second.fields["username"]
    assert first.fields["username"].parent is first
    assert isinstance(first.fields["date_joined"], UTCDateTimeField)
