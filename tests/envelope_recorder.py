"""A pytest plugin for notification-service's own tests: records every envelope they build.

``tests/test_event_contracts.py`` runs the consumer's tests with
``-p envelope_recorder`` and validates what was recorded against the event
schemas. Loaded with ``-p``, it is imported before the consumer's conftest, so
its ``from servicekit.events import build_envelope`` gets the recording one.
The file named by ``ENVELOPE_RECORD_FILE`` receives ``[{"test": ..., "envelope": ...}]``.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import pytest
from servicekit import events

_build_envelope = events.build_envelope
_recorded: list[dict[str, Any]] = []
_current_test = "(collection)"


def _recording_build_envelope(**kwargs: Any) -> dict[str, Any]:
    envelope = _build_envelope(**kwargs)
    # A copy as built: a test may break it afterwards on purpose.
    _recorded.append({"test": _current_test, "envelope": copy.deepcopy(envelope)})
    return envelope


events.build_envelope = _recording_build_envelope  # type: ignore[assignment]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    global _current_test
    _current_test = item.nodeid


def pytest_sessionfinish(session: pytest.Session) -> None:
    with open(os.environ["ENVELOPE_RECORD_FILE"], "w", encoding="utf-8") as output:
        json.dump(_recorded, output, default=str)
