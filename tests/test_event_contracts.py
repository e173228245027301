"""Event contracts: what the producers write, what the consumer receives, what its tests feed it.

All three are checked against the JSON Schemas in
``shared/src/servicekit/events/schemas/``, read here straight from the files
(not through ``servicekit.events.validate``, which the producers themselves
call: a contract test must not share the code it checks).

It lives in ``tests/`` because two of the three need the real suite: the
envelopes are read from todo-service's and user-service's outbox tables and
from notification-service's table of what it received over Celery, after a
user's actions through the gateway. The third runs notification-service's own
tests with a small plugin (``envelope_recorder.py``) that records every
envelope they build.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import requests
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from servicekit.testing import wait_for

from gateway_support import bearer, register_and_login
from support import ROOT, Suite

pytestmark = pytest.mark.e2e

SCHEMAS = ROOT / "shared" / "src" / "servicekit" / "events" / "schemas"
# Every event type with a schema, and so with a producer that must honour it.
EVENT_TYPES = sorted(folder.name for folder in SCHEMAS.iterdir() if folder.is_dir())


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def problems(envelope: Any) -> list[str]:
    """What is wrong with ``envelope`` by the schema files; empty when nothing is."""
    found = [
        f"envelope.{'.'.join(map(str, error.path)) or '(root)'}: {error.message}"
        for error in validator("envelope").iter_errors(envelope)
    ]
    if found or not isinstance(envelope, dict):
        return found or ["not an object"]
    dataschema = envelope["dataschema"]
    if not dataschema.startswith(envelope["type"] + "/"):
        return [f"dataschema {dataschema!r} is not a schema of type {envelope['type']!r}"]
    if not (SCHEMAS / f"{dataschema}.json").is_file():
        return [f"no schema file for dataschema {dataschema!r}"]
    return [
        f"data.{'.'.join(map(str, error.path)) or '(root)'}: {error.message}"
        for error in validator(dataschema).iter_errors(envelope["data"])
    ]


def rows(suite: Suite, service: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows from a service's own database (PostgreSQL in the shared suite); ``?`` placeholders."""
    url = suite.env[f"{service.upper()}_DATABASE_URL"]
    with closing(psycopg2.connect(url)) as connection, connection.cursor() as cursor:
        cursor.execute(query.replace("?", "%s"), params)
        return list(cursor.fetchall())


@pytest.fixture(scope="module")
def events_sent(shared_suite: Suite) -> dict[str, Any]:
    """One of each event: a user signs up, creates, completes and deletes todos (gateway only)."""
    tokens = register_and_login(shared_suite)
    gateway = shared_suite.url("api-gateway", "")
    auth = bearer(tokens["access"])
    kept = requests.post(f"{gateway}/todos", json={"title": "contract"}, headers=auth, timeout=10)
    dropped = requests.post(f"{gateway}/todos", json={"title": "gone"}, headers=auth, timeout=10)
    assert kept.status_code == dropped.status_code == 201, (kept.text, dropped.text)
    completed = requests.post(
        f"{gateway}/todos/{kept.json()['id']}/complete", headers=auth, timeout=10
    )
    deleted = requests.delete(f"{gateway}/todos/{dropped.json()['id']}", headers=auth, timeout=10)
    assert (completed.status_code, deleted.status_code) == (200, 204), (
        completed.text,
        deleted.text,
    )
    return {
        "user_id": kept.json()["user_id"],
        "todo_ids": [kept.json()["id"], dropped.json()["id"]],
    }


def outbox(suite: Suite) -> list[dict[str, Any]]:
    return [
        envelope  # a JSON column: psycopg2 hands it over decoded
        for service in ("todo", "user")
        for (envelope,) in rows(suite, service, "SELECT envelope FROM outbox_message ORDER BY id")
    ]


def test_every_envelope_the_producers_wrote_matches_the_schemas(
    shared_suite: Suite, events_sent: dict[str, Any]
) -> None:
    # given the outbox rows of todo-service and user-service (every event the suite made so far)
    envelopes = outbox(shared_suite)

    # then each matches the envelope schema and its data schema
    broken = {f"{e.get('type')} {e.get('id')}": problems(e) for e in envelopes if problems(e)}
    assert not broken, "producers wrote envelopes outside the schemas:\n" + json.dumps(
        broken, indent=2
    )
    # and every event type that has a schema was produced, by the service the schema names
    produced = {(e["type"], e["source"]) for e in envelopes}
    assert {t for t, _ in produced} >= set(EVENT_TYPES), (
        f"no envelope of {sorted(set(EVENT_TYPES) - {t for t, _ in produced})} in the outboxes"
    )
    mine = [e for e in envelopes if e["data"].get("user_id") == events_sent["user_id"]]
    assert sorted(e["type"] for e in mine) == [
        "todo.completed",
        "todo.created",
        "todo.created",
        "todo.deleted",
        "user.registered",
    ], [e["type"] for e in mine]


def test_the_consumer_received_exactly_what_the_producers_sent(
    shared_suite: Suite, events_sent: dict[str, Any]
) -> None:
    # given the notifications of the user's two mailable events (welcome, completion)
    query = "SELECT event_id, envelope FROM notifications_notification WHERE user_id = ?"
    user_id = events_sent["user_id"]
    wait_for(
        lambda: len(rows(shared_suite, "notification", query, user_id)) == 2,
        timeout=30,
        what="notification-service to record the user's two events",
    )
    received = {
        str(event_id).replace("-", ""): envelope
        for event_id, envelope in rows(shared_suite, "notification", query, user_id)
    }
    sent = {e["id"].replace("-", ""): e for e in outbox(shared_suite)}

    # then each is the producer's envelope, unchanged by the trip through Redis and Celery
    for event_id, envelope in received.items():
        assert envelope == sent.get(event_id), f"event {event_id} changed on the way"
        assert not problems(envelope), problems(envelope)


def test_the_consumers_test_fixtures_match_the_schemas(tmp_path: Path) -> None:
    # when notification-service's own tests run, recording every envelope they build
    record = tmp_path / "envelopes.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
        "ENVELOPE_RECORD_FILE": str(record),
        # a database of its own, whatever the caller's NOTIFICATION_DATABASE_URL is
        "DATABASE_URL": f"sqlite:///{tmp_path / 'notification.sqlite3'}",
        "VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "notifications/tests/test_services.py",
            "-p",
            "envelope_recorder",
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=ROOT / "notification_project",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"the consumer's tests failed:\n{result.stdout[-3000:]}"
    recorded = json.loads(record.read_text())

    # then every envelope they built matches the schemas (tests that break one do so afterwards)
    assert len(recorded) >= 10, f"only {len(recorded)} envelopes recorded: is the plugin working?"
    broken = [
        f"{entry['test']}: {'; '.join(problems(entry['envelope']))}"
        for entry in recorded
        if problems(entry["envelope"])
    ]
    assert not broken, "consumer test fixtures outside the schemas:\n" + "\n".join(broken)
    assert {entry["envelope"]["type"] for entry in recorded} >= {
        "todo.completed",
        "user.registered",
    }
