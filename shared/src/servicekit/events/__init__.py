"""Events as CloudEvents 1.0 envelopes (JSON structured mode), and their JSON Schemas.

This package is the single shared place for the event contracts between
services: the envelope and every event type's ``data`` schema
(``schemas/``), which the producers (todo-service, user-service, through the
outbox) and the consumer (notification-service) all read from here. A new
event type or version is added here, never in one service alone.

:func:`build_envelope` makes the envelope of docs/spec/events.md, "Envelope";
:func:`validate` checks one against ``schemas/envelope.json`` and the schema of
its ``data`` (``schemas/<type>/<version>.json``, named by ``dataschema``).
Producers validate before they write to the outbox, so a malformed event never
leaves the service; consumers can use the same function on what they receive.

A schema file is never edited in a way that breaks consumers: a breaking
change to ``data`` is a new file (``todo.completed/2.json``) and a new
``dataschema``. Schemas leave ``additionalProperties`` open on purpose, so
adding an optional field is not a breaking change.
"""

from __future__ import annotations

import json
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from django.utils import timezone
from jsonschema import Draft202012Validator, FormatChecker

from servicekit import tracing

SPEC_VERSION = "1.0"
DATA_CONTENT_TYPE = "application/json"
TRACEPARENT_RE = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")

# The W3C traceparent of the request being handled, if it sent a valid one;
# set by TraceContextMiddleware and copied into every event the request causes.
traceparent_var: ContextVar[str | None] = ContextVar("traceparent", default=None)


class InvalidEvent(ValueError):
    """An envelope (or its ``data``) does not match its schema; the message says where."""


def isoformat(moment: datetime) -> str:
    """UTC, millisecond precision, ``Z`` suffix: ``2026-11-25T10:00:00.123Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def build_envelope(
    *,
    event_type: str,
    source: str,
    subject: str,
    data: dict[str, Any],
    version: int = 1,
    traceparent: str | None = None,
    event_id: uuid.UUID | None = None,
    time: datetime | None = None,
) -> dict[str, Any]:
    """A new envelope with a fresh id (the consumers' idempotency key)."""
    envelope: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": str(event_id or uuid.uuid4()),
        "source": source,
        "type": event_type,
        "subject": subject,
        "time": isoformat(time or timezone.now()),
        "datacontenttype": DATA_CONTENT_TYPE,
        "dataschema": f"{event_type}/{version}",
    }
    # The span in progress (tracing on) is the event's parent; without tracing,
    # the traceparent the request came with is passed on as it is.
    traceparent = traceparent or tracing.current_traceparent() or traceparent_var.get()
    if traceparent:
        envelope["traceparent"] = traceparent
    envelope["data"] = data
    return envelope


def validate(envelope: Any) -> None:
    """Raise :class:`InvalidEvent` unless ``envelope`` and its ``data`` match their schemas."""
    _check(_validator("envelope"), envelope, where="envelope")
    dataschema = envelope["dataschema"]
    if not dataschema.startswith(f"{envelope['type']}/"):
        raise InvalidEvent(
            f"envelope: dataschema {dataschema!r} does not belong to type {envelope['type']!r}"
        )
    if dataschema not in known_schemas():
        raise InvalidEvent(f"envelope: no schema {dataschema!r} (known: {known_schemas()})")
    _check(_validator(dataschema), envelope["data"], where="data")


@cache
def known_schemas() -> list[str]:
    """Every ``<type>/<version>`` that has a schema file, sorted."""
    root = resources.files(__package__).joinpath("schemas")
    return sorted(
        f"{folder.name}/{file.name.removesuffix('.json')}"
        for folder in root.iterdir()
        if folder.is_dir()
        for file in folder.iterdir()
        if file.name.endswith(".json")
    )


def load_schema(name: str) -> dict[str, Any]:
    """``"envelope"`` or a ``dataschema`` such as ``"todo.completed/1"``."""
    path = resources.files(__package__).joinpath("schemas", f"{name}.json")
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _check(validator: Draft202012Validator, instance: Any, *, where: str) -> None:
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.path))
    if errors:
        problems = "; ".join(
            f"{where}.{'.'.join(str(p) for p in error.path) or '(root)'}: {error.message}"
            for error in errors
        )
        raise InvalidEvent(problems)
