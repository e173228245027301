"""The metrics only the gateway records (docs/observability.md lists every metric).

The ones every service records (requests, upstream calls, breakers) are
servicekit's (:mod:`servicekit.metrics.defs`). Importing this module imports
prometheus_client, which the entry points prepare first
(:func:`servicekit.metrics.prepare_process`).
"""

from __future__ import annotations

from prometheus_client import Counter

RATE_LIMIT_REJECTIONS = Counter(
    "gateway_rate_limit_rejections_total",
    "Requests answered 429, by policy (user, ip, login).",
    ["policy"],
)
