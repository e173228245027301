"""servicekit_settings: SERVICEKIT with defaults filled in, reloaded when it changes."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
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


def test_a_setting_the_project_must_give_is_named_when_it_did_not() -> None:
    # where events go is each project's own: the library has no default for it
    assert DEFAULTS["OUTBOX_TASK_NAME"] is None

    with pytest.raises(ImproperlyConfigured, match=r"SERVICEKIT\['OUTBOX_TASK_NAME'\] is not set"):
        servicekit_settings.required("OUTBOX_TASK_NAME")
    with override_settings(SERVICEKIT={"OUTBOX_TASK_NAME": "consumer.handle_event"}):
        assert servicekit_settings.required("OUTBOX_TASK_NAME") == "consumer.handle_event"
