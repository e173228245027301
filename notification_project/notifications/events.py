"""Reading the CloudEvents envelopes this service consumes (docs/spec/events.md, "Envelope").

The schemas are the suite's contract in ``servicekit.events``. :func:`parse`
checks the envelope, and for the types (and schema versions) consumed here
also ``data``; it returns an :class:`Event` or raises :class:`InvalidEvent`
saying what is wrong. Other types come back with ``consumed=False``: they are
acknowledged and ignored, never an error (a producer may add types first).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from servicekit import events
from servicekit.events import InvalidEvent

__all__ = ["TODO_COMPLETED", "USER_REGISTERED", "Event", "InvalidEvent", "event_key", "parse"]

TODO_COMPLETED = "todo.completed"
USER_REGISTERED = "user.registered"
CONSUMED_SCHEMAS = {f"{TODO_COMPLETED}/1", f"{USER_REGISTERED}/1"}


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    subject: str
    data: dict[str, Any]
    consumed: bool  # a type and schema version this service acts on

    @property
    def user_id(self) -> int:
        return int(self.data["user_id"])

    @property
    def version(self) -> int | None:
        """The producer's per-resource version, when it sends one (the ordering guard)."""
        version = self.data.get("version")
        return version if isinstance(version, int) else None


def parse(envelope: Any) -> Event:
    errors = sorted(_envelope_validator().iter_errors(envelope), key=lambda e: list(e.path))
    if errors:
        raise InvalidEvent(
            "; ".join(
                f"envelope.{'.'.join(str(p) for p in error.path) or '(root)'}: {error.message}"
                for error in errors
            )
        )
    consumed = envelope["dataschema"] in CONSUMED_SCHEMAS
    if consumed:
        events.validate(envelope)
    return Event(
        id=envelope["id"],
        type=envelope["type"],
        subject=envelope["subject"],
        data=envelope["data"],
        consumed=consumed,
    )


def event_key(envelope: Any) -> str:
    """The envelope's id, or for one without a usable id a digest of its content.

    Either way the same message delivered again maps to the same key, so even
    a broken message is recorded once.
    """
    if isinstance(envelope, dict):
        candidate = envelope.get("id")
        if isinstance(candidate, str) and 0 < len(candidate) <= 255:
            return candidate
    canonical = json.dumps(envelope, sort_keys=True, default=str).encode()
    return f"sha256:{hashlib.sha256(canonical).hexdigest()}"


def event_type_of(envelope: Any) -> str:
    kind = envelope.get("type") if isinstance(envelope, dict) else None
    return kind[:100] if isinstance(kind, str) else ""


@cache
def _envelope_validator() -> Draft202012Validator:
    return Draft202012Validator(events.load_schema("envelope"), format_checker=FormatChecker())
