"""The gateway's readiness lists every upstream instance.

Upstreams are reported but not *critical*: a gateway whose user-service is down
must keep serving todos, so an orchestrator must not take it out of rotation.
"""

from __future__ import annotations

from collections.abc import Iterator

import urllib3
from django.conf import settings
from servicekit.health import CheckResult, timed_check

_http = urllib3.PoolManager(num_pools=16, maxsize=2, retries=False)


def _probe(url: str) -> None:
    timeout = urllib3.Timeout(connect=settings.GATEWAY_CONNECT_TIMEOUT, read=2.0)
    response = _http.request("GET", f"{url}/health", timeout=timeout)
    if response.status != 200:
        raise RuntimeError(f"/health answered {response.status}")


def check_upstreams() -> Iterator[CheckResult]:
    for service, urls in settings.UPSTREAMS.items():
        for url in urls:
            result = timed_check(f"upstream:{service}", lambda url=url: _probe(url), critical=False)  # type: ignore[misc]
            if len(urls) > 1:
                result.name = f"upstream:{service}:{url}"
            result.details["url"] = url
            yield result
