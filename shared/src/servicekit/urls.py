"""URL helpers: every path answers with and without a trailing slash, no redirect."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path

from servicekit import health
from servicekit.metrics import views as metrics_views


def optional_slash(route: str, view: Any, name: str | None = None) -> list[URLPattern]:
    """``route`` and ``route/`` both resolve to ``view`` (the first carries the name)."""
    route = route.rstrip("/")
    named = path(route, view, name=name) if name else path(route, view)
    return [named, path(f"{route}/", view)]


health_urlpatterns: list[URLPattern] = [
    *optional_slash("health", health.health, name="health"),
    *optional_slash("health/ready", health.ready, name="health-ready"),
]

# Prometheus text format (servicekit.metrics); the gateway lists it before its catch-all.
metrics_urlpatterns: list[URLPattern] = optional_slash(
    "metrics", metrics_views.metrics, name="metrics"
)
