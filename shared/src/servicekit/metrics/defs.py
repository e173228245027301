"""The metrics more than one service records (docs/observability.md lists them all).

A metric only one service records is defined in that service
(``gateway/metrics.py``, ``sagas/metrics.py`` in user-service).

Importing this module imports prometheus_client: call
:func:`servicekit.metrics.prepare_process` first (the entry points do).
Labels are bounded: a route is the URL pattern, never the raw path.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Seconds; from a cached gateway answer to a slow upstream timing out.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# --- HTTP, every service (servicekit.middleware.AccessLogMiddleware) -----------
HTTP_REQUESTS = Counter(
    "http_requests_total",
    "Requests answered, by method, route (URL pattern) and status.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from the request reaching Django to the response, by method, route and status.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)

# --- Calls to other services (the gateway's proxy, servicekit.http) ------------
UPSTREAM_REQUEST_DURATION = Histogram(
    "upstream_request_duration_seconds",
    "One attempt at calling another service, by upstream and outcome "
    "(the status code, or connect_error / timeout / bad_response).",
    ["upstream", "outcome"],
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_RETRIES = Counter(
    "upstream_retries_total",
    "Attempts repeated after a failed connect or a 502/503/504, by upstream.",
    ["upstream"],
)
CIRCUIT_BREAKER_STATE = Gauge(
    "circuit_breaker_state",
    "Circuit breaker per upstream: 0 closed, 1 half-open, 2 open (the worst of the processes).",
    ["breaker"],
    multiprocess_mode="livemax",
)

# --- The outbox relay --------------------------------------------------------------
OUTBOX_PUBLISHED = Counter(
    "outbox_published_total",
    "Events the relay handed to the broker (redeliveries included), by event type.",
    ["event_type"],
)
OUTBOX_PUBLISH_FAILURES = Counter(
    "outbox_publish_failures_total",
    "Relay rounds that failed to publish (broker or Redis unreachable), by relay.",
    ["relay"],
)
# outbox_pending_events and outbox_lag_seconds are read from the database at
# scrape time (servicekit.metrics.views.OutboxCollector).

# --- Celery workers ------------------------------------------------------------
CELERY_TASKS = Counter(
    "celery_tasks_total",
    "Task runs by task name and outcome (success, failure, retry).",
    ["task", "outcome"],
)
CELERY_TASK_DURATION = Histogram(
    "celery_task_duration_seconds",
    "Task run time by task name (each attempt).",
    ["task"],
    buckets=TASK_BUCKETS,
)
