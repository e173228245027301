"""Event envelopes and their JSON Schemas: what producers write is what consumers can read."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import pytest

from servicekit import events

COMPLETED = {
    "todo_id": 42,
    "user_id": 7,
    "title": "buy milk",
    "completed_at": "2026-11-25T10:00:00.100Z",
    "version": 2,
}


def envelope(**overrides: Any) -> dict[str, Any]:
    built = events.build_envelope(
        event_type="todo.completed", source="todo-service", subject="todos/42", data=COMPLETED
    )
    built.update(overrides)
    return built


def test_a_built_envelope_has_every_cloudevents_attribute_and_is_valid() -> None:
    built = envelope()

    events.validate(built)
    assert built["specversion"] == "1.0"
    assert built["datacontenttype"] == "application/json"
    assert built["dataschema"] == "todo.completed/1"
    assert built["type"] == "todo.completed"
    assert built["time"].endswith("Z")
    assert "traceparent" not in built


def test_each_envelope_gets_its_own_id() -> None:
    assert envelope()["id"] != envelope()["id"]


def test_time_is_utc_with_milliseconds() -> None:
    moment = datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC)

    assert events.isoformat(moment) == "2026-11-25T10:00:00.123Z"


def test_the_traceparent_of_the_current_request_is_carried() -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    token = events.traceparent_var.set(traceparent)
    try:
        built = envelope()
    finally:
        events.traceparent_var.reset(token)

    events.validate(built)
    assert built["traceparent"] == traceparent


def test_the_example_of_events_md_is_valid() -> None:
    example = {
        "specversion": "1.0",
        "id": "6f1c0c1e-2b8a-4c1e-9d0a-3c3f1b2a9e77",
        "source": "todo-service",
        "type": "todo.completed",
        "subject": "todos/42",
        "time": "2026-11-25T10:00:00.123Z",
        "datacontenttype": "application/json",
        "dataschema": "todo.completed/1",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "data": {
            "todo_id": 42,
            "user_id": 7,
            "title": "buy milk",
            "completed_at": "2026-11-25T10:00:00.100Z",
        },
    }

    events.validate(example)


@pytest.mark.parametrize(
    ("schema", "data"),
    [
        (
            "todo.created/1",
            {"todo_id": 1, "user_id": 7, "title": "t", "priority": "low", "due_date": None},
        ),
        (
            "todo.created/1",
            {
                "todo_id": 1,
                "user_id": 7,
                "title": "t",
                "priority": "high",
                "due_date": "2027-01-31",
            },
        ),
        ("todo.completed/1", COMPLETED),
        ("todo.deleted/1", {"todo_id": 1, "user_id": 7}),
        ("user.registered/1", {"user_id": 7, "username": "alice", "email": "alice@example.com"}),
    ],
)
def test_every_type_accepts_its_documented_data(schema: str, data: dict[str, Any]) -> None:
    event_type = schema.split("/")[0]
    built = events.build_envelope(event_type=event_type, source="test", subject="x/1", data=data)

    events.validate(built)


BROKEN: list[tuple[str, Any, str]] = [
    ("data.todo_id", lambda e: e["data"].pop("todo_id"), "'todo_id' is a required property"),
    ("data.user_id", lambda e: e["data"].update(user_id="7"), "is not of type 'integer'"),
    ("data.title", lambda e: e["data"].update(title=""), "data.title"),
    ("data.version", lambda e: e["data"].update(version=0), "data.version"),
    ("data.completed_at", lambda e: e["data"].update(completed_at="yesterday"), "completed_at"),
    ("id", lambda e: e.update(id="not-a-uuid"), "envelope.id"),
    ("specversion", lambda e: e.update(specversion="0.3"), "specversion"),
    ("time", lambda e: e.update(time="25/11/2026"), "envelope.time"),
    ("unknown attribute", lambda e: e.update(colour="red"), "colour"),
    ("missing source", lambda e: e.pop("source"), "'source' is a required property"),
    ("unknown version", lambda e: e.update(dataschema="todo.completed/9"), "no schema"),
    ("foreign schema", lambda e: e.update(dataschema="todo.deleted/1"), "does not belong"),
]


@pytest.mark.parametrize(("what", "breaks", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_invalid_envelopes_are_refused_saying_where(what: str, breaks: Any, message: str) -> None:
    broken = copy.deepcopy(envelope())
    breaks(broken)

    with pytest.raises(events.InvalidEvent, match=message.replace("(", r"\(")):
        events.validate(broken)


def test_every_schema_file_is_a_valid_json_schema_named_type_slash_version() -> None:
    names = events.known_schemas()

    assert names == ["todo.completed/1", "todo.created/1", "todo.deleted/1", "user.registered/1"]
    for name in names:
        schema = events.load_schema(name)
        assert schema["$id"] == name
        assert schema["type"] == "object"
    root = resources.files("servicekit.events").joinpath("schemas", "envelope.json")
    assert json.loads(root.read_text())["required"][0] == "specversion"
