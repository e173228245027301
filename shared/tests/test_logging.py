"""JsonFormatter and RequestContextFilter: one JSON object per line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from servicekit.context import request_id_var
from servicekit.logging import JsonFormatter, RequestContextFilter


class JsonLog:
    """A logger of its own whose output goes through servicekit's formatter and filter."""

    def __init__(self, name: str) -> None:
        self.buffer = io.StringIO()
        handler = logging.StreamHandler(self.buffer)
        handler.setFormatter(JsonFormatter(service="billing"))
        handler.addFilter(RequestContextFilter())
        self.handler = handler
        self.logger = logging.getLogger(name)
        self.logger.addHandler(handler)
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False

    def raw_lines(self) -> list[str]:
        return self.buffer.getvalue().splitlines()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.raw_lines()]

    def close(self) -> None:
        self.logger.removeHandler(self.handler)
        self.logger.propagate = True


@pytest.fixture
def log(request: pytest.FixtureRequest) -> Iterator[JsonLog]:
    json_log = JsonLog(f"servicekit_tests.logging.{request.node.name}")
    yield json_log
    json_log.close()


def test_a_record_has_the_standard_keys_and_the_extras(log: JsonLog) -> None:
    # when
    log.logger.info("todo created", extra={"todo_id": 7, "owner": "ada"})

    # then
    (record,) = log.records()
    assert record == {
        "time": record["time"],
        "level": "INFO",
        "logger": log.logger.name,
        "message": "todo created",
        "service": "billing",
        "request_id": None,
        "todo_id": 7,
        "owner": "ada",
    }
    assert datetime.strptime(record["time"], "%Y-%m-%dT%H:%M:%S%z").tzinfo is not None


def test_a_record_carries_the_current_request_id(log: JsonLog) -> None:
    # given
    token = request_id_var.set("req-1")
    try:
        # when
        log.logger.warning("slow query")
    finally:
        request_id_var.reset(token)
    log.logger.warning("after the request")

    # then
    assert [(r["level"], r["request_id"]) for r in log.records()] == [
        ("WARNING", "req-1"),
        ("WARNING", None),
    ]


def test_an_exception_appears_in_exc_info_and_stays_on_one_line(log: JsonLog) -> None:
    # when
    try:
        raise ValueError("boom")
    except ValueError:
        log.logger.exception("could not save")

    # then
    assert len(log.raw_lines()) == 1
    (record,) = log.records()
    assert record["level"] == "ERROR"
    assert record["message"] == "could not save"
    assert record["exc_info"].startswith("Traceback (most recent call last):")
    assert record["exc_info"].endswith("ValueError: boom")


@pytest.mark.parametrize("message", ["first line\nsecond line", 'quotes " and \\ backslash'])
def test_awkward_messages_stay_one_json_object_per_line(log: JsonLog, message: str) -> None:
    log.logger.info(message)
    log.logger.info("next")

    assert [r["message"] for r in log.records()] == [message, "next"]


def test_message_arguments_are_interpolated(log: JsonLog) -> None:
    log.logger.info("moved %d todos to %s", 3, "done")

    assert log.records()[0]["message"] == "moved 3 todos to done"
