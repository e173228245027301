"""servicekit.tracing: off costs nothing; on, events and logs carry the trace."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from conftest import LogLines
from servicekit import tracing
from servicekit.events import build_envelope

OFF_SCRIPT = """
import sys
from servicekit import tracing
assert tracing.instrument() is False and tracing.start() is False
with tracing.span("nothing"):
    pass
assert tracing.current_traceparent() is None
print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
"""


def test_without_an_endpoint_nothing_of_opentelemetry_is_imported() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run(
        [sys.executable, "-c", OFF_SCRIPT], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


_exporter = InMemorySpanExporter()


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Tracing on in this process, spans kept in memory."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
        trace.set_tracer_provider(provider)
    monkeypatch.setattr(tracing, "active", True)
    _exporter.clear()
    yield _exporter
    _exporter.clear()


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_span_continues_the_trace_of_an_event_envelope(spans: InMemorySpanExporter) -> None:
    with tracing.span("handle todo.completed", traceparent=TRACEPARENT, kind="consumer"):
        pass

    (span,) = spans.get_finished_spans()
    assert f"{span.context.trace_id:032x}" == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert span.parent is not None
    assert f"{span.parent.span_id:016x}" == "00f067aa0ba902b7"


def test_inside_the_same_trace_the_envelope_becomes_a_link(spans: InMemorySpanExporter) -> None:
    with (
        tracing.span("outer", traceparent=TRACEPARENT),
        tracing.span("inner", traceparent=TRACEPARENT),
    ):
        pass

    inner, outer = spans.get_finished_spans()
    assert inner.parent is not None
    assert inner.parent.span_id == outer.context.span_id
    assert [f"{link.context.span_id:016x}" for link in inner.links] == ["00f067aa0ba902b7"]


def test_an_event_built_inside_a_span_carries_that_span(spans: InMemorySpanExporter) -> None:
    with tracing.span("request") as span:
        envelope = build_envelope(
            event_type="todo.completed", source="/todo-service", subject="todo/1", data={}
        )
    context = span.get_span_context()
    flags = f"{int(context.trace_flags):02x}"
    assert envelope["traceparent"] == f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags}"


def test_log_lines_carry_trace_and_span_ids_while_a_span_runs(
    spans: InMemorySpanExporter, json_logs: LogLines
) -> None:
    logger = logging.getLogger("servicekit_tests.tracing")
    with tracing.span("work") as span:
        logger.info("inside")
    logger.info("outside")

    inside, outside = json_logs()
    context = span.get_span_context()
    assert inside["trace_id"] == f"{context.trace_id:032x}"
    assert inside["span_id"] == f"{context.span_id:016x}"
    assert "trace_id" not in outside
