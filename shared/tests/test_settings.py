"""servicekit_settings: SERVICEKIT with defaults filled in, reloaded when it changes."""

from __future__ import annotations

import pytest
from django.test import override_settings

from servicekit.settings import DEFAULTS, servicekit_settings


def test_given_values_win_and_the_rest_are_defaults() -> None:
    assert servicekit_settings.SERVICE_NAME == "test-service"
    assert servicekit_settings.MAX_BODY_BYTES == DEFAULTS["MAX_BODY_BYTES"] == 1024 * 1024
    assert servicekit_settings.READINESS_CHECKS == [
        "servicekit.health.check_databases",
        "servicekit.health.check_redis",
    ]


def test_changing_the_setting_is_seen_immediately_and_undone_afterwards() -> None:
    # given the values have been read (and cached) once
    assert servicekit_settings.HEALTH_CHECK_TIMEOUT == 2.0
    assert servicekit_settings.SERVICE_NAME == "test-service"

    # when / then
    with override_settings(SERVICEKIT={"HEALTH_CHECK_TIMEOUT": 0.5}):
        assert servicekit_settings.HEALTH_CHECK_TIMEOUT == 0.5
        assert servicekit_settings.SERVICE_NAME == "service"
    assert servicekit_settings.HEALTH_CHECK_TIMEOUT == 2.0
    assert servicekit_settings.SERVICE_NAME == "test-service"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="Invalid servicekit setting: 'SERVICE_NAMES'"):
        _ = servicekit_settings.SERVICE_NAMES
