"""The metrics only user-service's saga engine records (docs/observability.md lists every metric).

The ones every service records (requests, Celery tasks, the outbox relay)
are servicekit's (:mod:`servicekit.metrics.defs`). Importing this module
imports prometheus_client, which the entry points prepare first
(:func:`servicekit.metrics.prepare_process`).
"""

from __future__ import annotations

from prometheus_client import Counter

SAGAS_FINISHED = Counter(
    "sagas_finished_total",
    "Sagas that reached an end, by kind and outcome (completed, failed = compensated).",
    ["kind", "outcome"],
)
