"""``/docs``: one Swagger UI page for every service's OpenAPI schema, through the gateway.

Each service serves its own schema (``GATEWAY_SCHEMA_PATH``, ``/schema``); the
gateway relays it at ``/schemas/<service>`` so the page and the "Try it out"
requests all go to the gateway's origin, with the gateway's token rules.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.http import require_GET
from servicekit.exceptions import page_not_found

from gateway import proxy
from gateway.upstreams import get_upstream

# Swagger UI's files from drf-spectacular-sidecar (as the services' /docs use):
# the page works without a CDN, offline and behind strict egress rules.
SWAGGER_UI_DIST = "drf_spectacular_sidecar/swagger-ui-dist"


@require_GET
def swagger_ui(request: HttpRequest) -> HttpResponse:
    schemas = [{"name": service, "url": f"/schemas/{service}"} for service in settings.UPSTREAMS]
    return render(
        request, "gateway/docs.html", {"schemas": schemas, "dist": static(SWAGGER_UI_DIST)}
    )


@require_GET
def schema(request: HttpRequest, service: str) -> HttpResponse:
    """The service's schema, fetched like any proxied GET (pool, timeouts, breaker)."""
    if service not in settings.UPSTREAMS:
        return page_not_found(request)
    upstream = get_upstream(service)
    try:
        return upstream.breaker.call(
            proxy.send_get, upstream, settings.GATEWAY_SCHEMA_PATH, request
        )
    except proxy.UpstreamFailed as exc:
        return exc.response()
    except proxy.CircuitBreakerError:
        return proxy.CircuitOpen(upstream).response()
