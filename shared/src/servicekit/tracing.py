"""OpenTelemetry tracing, switched on by ``OTEL_EXPORTER_OTLP_ENDPOINT``.

The OpenTelemetry SDK is configured by its own standard ``OTEL_*`` environment
variables (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``,
``OTEL_TRACES_SAMPLER`` ...), so this module reads the environment for that one
question, "is tracing on?", and leaves the rest to the SDK. When the endpoint
is unset nothing of OpenTelemetry is imported or installed: no middleware, no
patched clients, no cost per request.

Two steps, because of forking servers:

- :func:`instrument` (at start-up, before Django builds its middleware chain,
  from :func:`servicekit.entrypoints.load_settings_or_exit`): patches Django,
  requests, urllib3, Celery, psycopg2 and redis. Patching starts no thread, so
  it is safe in a gunicorn master or a Celery parent that forks afterwards.
- :func:`start` (in each process that will record spans: a gunicorn worker's
  ``post_fork``, a Celery pool process's ``worker_process_init``, the relay):
  installs the tracer provider with ``service.name`` and a BatchSpanProcessor
  exporting over OTLP/HTTP. The span processor runs a thread, which must not be
  created before a fork.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import SpanKind

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"

_instrumented = False
# What spans of this process are named when start() is given no name (set_process_name).
_process_name: str | None = None
# True once a tracer provider is installed in this process: spans are recorded.
active = False


def enabled() -> bool:
    """Whether an OTLP endpoint is configured (and the SDK not disabled)."""
    return bool(os.environ.get(ENDPOINT_VARIABLE)) and os.environ.get(
        "OTEL_SDK_DISABLED", ""
    ).lower() not in {"true", "1"}


def set_process_name(name: str) -> None:
    """Name this process's spans (``service.name``), e.g. ``notification-worker``."""
    global _process_name
    _process_name = name


def instrument() -> bool:
    """Patch the libraries the suite uses (once per process); False when tracing is off."""
    global _instrumented
    if not enabled():
        return False
    if _instrumented:
        return True
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor

    # Health probes and scrapes would be most of the spans and tell nothing.
    DjangoInstrumentor().instrument(excluded_urls="health,metrics")
    RequestsInstrumentor().instrument()
    URLLib3Instrumentor().instrument()
    RedisInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    # psycopg2 may be absent (the gateway has no database); skip_dep_check keeps
    # the instrumentor from refusing when only psycopg2-binary is installed.
    if importlib.util.find_spec("psycopg2") is not None:
        from opentelemetry.instrumentation.psycopg2 import Psycopg2Instrumentor

        Psycopg2Instrumentor().instrument(skip_dep_check=True)
    _connect_celery_worker_hooks()
    _instrumented = True
    return True


def start(service_name: str | None = None) -> bool:
    """Install the tracer provider in this process; False when tracing is off.

    ``service_name`` defaults to ``SERVICEKIT["SERVICE_NAME"]``; background
    processes pass their own (``todo-relay``, ``notification-worker``).
    """
    global active
    if not enabled():
        return False
    if active:
        return True
    instrument()
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from servicekit.settings import servicekit_settings

    resource = Resource.create(
        {
            "service.name": service_name or _process_name or servicekit_settings.SERVICE_NAME,
            "service.version": servicekit_settings.SERVICE_VERSION,
        }
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    active = True
    return True


def shutdown() -> None:
    """Export what is buffered (a process about to exit)."""
    if not active:
        return
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    flush = getattr(provider, "shutdown", None)
    if flush is not None:
        flush()


def current_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` in hex of the span in progress, or None (always None when off)."""
    if not active:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the span in progress, or None."""
    if not active:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def span(
    name: str,
    *,
    traceparent: str | None = None,
    kind: str = "internal",
    attributes: dict[str, Any] | None = None,
) -> Any:
    """A context manager: a span named ``name``; a no-op when tracing is off.

    With ``traceparent`` (an event envelope's), the span continues that trace,
    unless a span of the same trace is already in progress (then it nests
    under it, and the envelope's context is kept as a link).
    """
    if not active:
        return nullcontext()
    return _span(name, traceparent=traceparent, kind=kind, attributes=attributes or {})


@contextmanager
def _span(
    name: str, *, traceparent: str | None, kind: str, attributes: dict[str, Any]
) -> Iterator[Any]:
    from opentelemetry import trace
    from opentelemetry.trace import Link
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    tracer = trace.get_tracer("servicekit")
    context = None
    links: list[Link] = []
    if traceparent:
        parent = TraceContextTextMapPropagator().extract({"traceparent": traceparent})
        parent_context = trace.get_current_span(parent).get_span_context()
        current = trace.get_current_span().get_span_context()
        if parent_context.is_valid:
            if current.is_valid and current.trace_id == parent_context.trace_id:
                links.append(Link(parent_context))
            else:
                context = parent
    with tracer.start_as_current_span(
        name, context=context, kind=_kind(kind), attributes=attributes, links=links
    ) as current_span:
        yield current_span


def _kind(name: str) -> SpanKind:
    from opentelemetry.trace import SpanKind

    return {
        "internal": SpanKind.INTERNAL,
        "producer": SpanKind.PRODUCER,
        "consumer": SpanKind.CONSUMER,
    }[name]


def _connect_celery_worker_hooks() -> None:
    """Each Celery pool process starts its own provider (named by :func:`set_process_name`)."""
    from celery import signals

    def on_process_init(**kwargs: Any) -> None:
        start()

    def on_process_shutdown(**kwargs: Any) -> None:
        shutdown()

    signals.worker_process_init.connect(on_process_init, weak=False)
    signals.worker_process_shutdown.connect(on_process_shutdown, weak=False)
