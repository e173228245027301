"""UTCDateTimeField writes what DRF's DateTimeField writes in a UTC service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from rest_framework import serializers

from servicekit.fields import UTCDateTimeField


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
