"""Upstream services: their instances, connection pools, round robin and ejection.

Each service (``todo-service`` ...) has one or more base URLs in settings
(``TODO_SERVICE_URL=http://a:8081,http://b:8081``). A hostname may stand for
several machines (``docker compose --scale todo-service=3`` gives one name with
three addresses), so every URL is resolved and each address becomes an
:class:`Instance` with its own keep-alive connection pool. Names are resolved
again every ``GATEWAY_DNS_REFRESH_SECONDS``; pools of addresses that stay are
kept.

Requests go round robin over the instances. An instance whose connect fails is
*ejected* for ``GATEWAY_EJECT_SECONDS`` (passive health checking, as nginx's
``max_fails``/``fail_timeout`` or Envoy's outlier detection do): traffic skips
it until the cool-off is over, then it gets requests again.

Everything here is built once per process (:func:`get_upstream`); the request
path only takes an instance and uses its pool.
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from servicekit.breaker import CircuitBreaker

logger = logging.getLogger(__name__)

# Enough for every gunicorn thread of a worker to hold a connection to one instance.
POOL_SIZE = 16


@dataclass
class Instance:
    """One address of a service, with its pool of keep-alive connections."""

    service: str
    url: str  # what the access log shows, e.g. http://10.0.0.7:8081
    host_header: str  # what the service is called, e.g. todo-service:8081
    pool: urllib3.HTTPConnectionPool
    ejected_until: float = 0.0

    def available(self, now: float) -> bool:
        return self.ejected_until <= now

    def eject(self, seconds: float) -> None:
        self.ejected_until = time.monotonic() + seconds
        logger.warning(
            "upstream_instance_ejected",
            extra={"service": self.service, "instance": self.url, "seconds": seconds},
        )


@dataclass
class Upstream:
    """A service: its instances in round-robin order and its circuit breaker."""

    name: str
    base_urls: list[str]
    breaker: CircuitBreaker
    eject_seconds: float
    dns_refresh_seconds: float
    timeout: urllib3.Timeout
    instances: list[Instance] = field(default_factory=list)
    _pools: dict[tuple[str, str, int], Instance] = field(default_factory=dict)
    _resolved_at: float = float("-inf")
    _counter: Any = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def pick(self, *, exclude: tuple[Instance, ...] = ()) -> Instance | None:
        """The next instance in round-robin order that is not ejected and not in ``exclude``.

        If every instance is ejected, the one whose cool-off ends first is
        tried anyway (it may well be back); ``None`` only when ``exclude``
        leaves nothing.
        """
        now = time.monotonic()
        if now - self._resolved_at > self.dns_refresh_seconds:
            self._resolve(now)
        instances = self.instances
        count = len(instances)
        start = next(self._counter)
        fallback: Instance | None = None
        for offset in range(count):
            instance = instances[(start + offset) % count]
            if instance in exclude:
                continue
            if instance.available(now):
                return instance
            if fallback is None or instance.ejected_until < fallback.ejected_until:
                fallback = instance
        return fallback

    def _resolve(self, now: float) -> None:
        """(Re)build the instance list from the base URLs' addresses."""
        if not self._lock.acquire(blocking=bool(not self.instances)):
            return  # another thread is resolving; use the current list meanwhile
        try:
            if now - self._resolved_at <= self.dns_refresh_seconds and self.instances:
                return
            instances: list[Instance] = []
            for base_url in self.base_urls:
                parts = urlsplit(base_url)
                scheme, host = parts.scheme, parts.hostname or ""
                port = parts.port or (443 if scheme == "https" else 80)
                for address in _addresses(host, port):
                    key = (scheme, address, port)
                    instance = self._pools.get(key) or self._new_instance(
                        scheme, host, address, port, parts.netloc
                    )
                    self._pools[key] = instance
                    instances.append(instance)
            if instances:
                self.instances = instances
            self._resolved_at = now
        finally:
            self._lock.release()

    def _new_instance(
        self, scheme: str, host: str, address: str, port: int, netloc: str
    ) -> Instance:
        pool: urllib3.HTTPConnectionPool
        if scheme == "https":
            # Connect to the address, but check the certificate against the name.
            pool = urllib3.HTTPSConnectionPool(
                address,
                port,
                maxsize=POOL_SIZE,
                block=False,
                retries=False,
                timeout=self.timeout,
                server_hostname=host,
                assert_hostname=host,
            )
        else:
            pool = urllib3.HTTPConnectionPool(
                address, port, maxsize=POOL_SIZE, block=False, retries=False, timeout=self.timeout
            )
        shown = f"[{address}]" if ":" in address else address
        return Instance(self.name, f"{scheme}://{shown}:{port}", netloc, pool)


def _addresses(host: str, port: int) -> list[str]:
    """The IP addresses of ``host`` (IPv4 first when it has any); itself if it is one."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [host]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        logger.warning("upstream_dns_failed", extra={"host": host, "error": str(exc)})
        # Let the connect attempt fail (and report) with the name itself.
        return [host]
    v4 = [str(info[4][0]) for info in infos if info[0] == socket.AF_INET]
    v6 = [str(info[4][0]) for info in infos if info[0] == socket.AF_INET6]
    return list(dict.fromkeys(v4 or v6))


_upstreams: dict[str, Upstream] = {}
_registry_lock = threading.Lock()


def get_upstream(name: str) -> Upstream:
    """The process's :class:`Upstream` for a service named in ``settings.UPSTREAMS``."""
    upstream = _upstreams.get(name)
    if upstream is None:
        with _registry_lock:
            upstream = _upstreams.get(name)
            if upstream is None:
                upstream = _upstreams[name] = _build(name)
    return upstream


def _build(name: str) -> Upstream:
    return Upstream(
        name=name,
        base_urls=list(settings.UPSTREAMS[name]),
        breaker=CircuitBreaker(
            fail_max=settings.GATEWAY_BREAKER_FAIL_MAX,
            reset_timeout=settings.GATEWAY_BREAKER_RESET_SECONDS,
            name=name,
        ),
        eject_seconds=settings.GATEWAY_EJECT_SECONDS,
        dns_refresh_seconds=settings.GATEWAY_DNS_REFRESH_SECONDS,
        timeout=urllib3.Timeout(
            connect=settings.GATEWAY_CONNECT_TIMEOUT, read=settings.GATEWAY_UPSTREAM_TIMEOUT
        ),
    )


def reset() -> None:
    """Forget every upstream (their pools, breakers and ejections); tests use it."""
    with _registry_lock:
        for upstream in _upstreams.values():
            for instance in upstream._pools.values():
                instance.pool.close()
        _upstreams.clear()


@receiver(setting_changed)
def _reset_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("GATEWAY_") or setting == "UPSTREAMS":
        reset()
