"""``GET /metrics``: the service's metrics in Prometheus text format.

In multiprocess mode it adds up every process's samples in the metrics
directory; with ``servicekit.outbox`` installed it also reads the outbox's
backlog and lag from the database at scrape time. With
``SERVICEKIT["METRICS_TOKEN"]`` set, a scrape must send
``Authorization: Bearer <token>`` (the gateway's port is public).
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterator

from django.apps import apps
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from servicekit.metrics import MULTIPROC_VARIABLE
from servicekit.settings import servicekit_settings

logger = logging.getLogger(__name__)


class OutboxCollector(Collector):
    """``outbox_pending_events`` and ``outbox_lag_seconds`` (age of the oldest pending row)."""

    def collect(self) -> Iterator[Metric]:
        from servicekit.outbox.models import OutboxMessage
        from servicekit.outbox.services import relay_lag_seconds

        try:
            pending = OutboxMessage.objects.pending().count()
            lag = relay_lag_seconds()
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail for a database blip
            logger.warning("metrics_outbox_unreadable", extra={"error": str(exc)})
            return
        yield GaugeMetricFamily(
            "outbox_pending_events", "Outbox rows not yet handed to the broker.", value=pending
        )
        yield GaugeMetricFamily(
            "outbox_lag_seconds",
            "Relay lag: age of the oldest unpublished outbox row (0 when none).",
            value=lag,
        )


def registry() -> CollectorRegistry:
    """What a scrape reads: every process's samples, plus the scrape-time collectors."""
    if os.environ.get(MULTIPROC_VARIABLE):
        scraped = CollectorRegistry()
        MultiProcessCollector(scraped)
    else:
        scraped = CollectorRegistry()
        scraped.register(_Everything())
    if apps.is_installed("servicekit.outbox"):
        scraped.register(OutboxCollector())
    return scraped


class _Everything(Collector):
    """The default registry (single-process mode), read inside another one."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def authorized(request: HttpRequest) -> bool:
    token = servicekit_settings.METRICS_TOKEN
    if not token:
        return True
    sent = request.META.get("HTTP_AUTHORIZATION", "")
    return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not authorized(request):
        return JsonResponse(
            {
                "detail": "GET /metrics needs 'Authorization: Bearer <METRICS_TOKEN>'.",
                "code": "not_authenticated",
            },
            status=401,
        )
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
