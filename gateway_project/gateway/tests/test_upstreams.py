"""Instances: every address of a hostname gets traffic, round robin."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.test import Client
from servicekit.testing import TokenFactory

from gateway.tests.helpers import bearer


def test_a_hostname_with_several_addresses_spreads_over_all_of_them(
    client: Client,
    token_factory: TokenFactory,
    make_upstream,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given two servers on one port of two loopback addresses, and a name resolving to both
    # (what `docker compose --scale todo-service=2` gives the gateway through Docker's DNS)
    first = make_upstream("127.0.0.1")
    second = make_upstream("127.0.0.2", port=first.port)
    real_getaddrinfo = socket.getaddrinfo

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "todo-service.test":
            return real_getaddrinfo(host, port, *args, **kwargs)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in ("127.0.0.1", "127.0.0.2")
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    settings.UPSTREAMS = {
        **settings.UPSTREAMS,
        "todo-service": [f"http://todo-service.test:{first.port}"],
    }

    # when
    for _ in range(4):
        assert client.get("/todos", headers=bearer(token_factory.access(1))).status_code == 200

    # then both addresses served, and each saw the service's name as Host
    assert len(first.received) == 2
    assert len(second.received) == 2
    assert {r.headers["host"] for r in first.received + second.received} == {
        f"todo-service.test:{first.port}"
    }


def test_several_urls_are_used_round_robin(
    client: Client, token_factory: TokenFactory, make_upstream, settings: Any
) -> None:
    servers = [make_upstream() for _ in range(3)]
    settings.UPSTREAMS = {**settings.UPSTREAMS, "todo-service": [s.url for s in servers]}

    for _ in range(6):
        client.get("/todos", headers=bearer(token_factory.access(1)))

    assert [len(s.received) for s in servers] == [2, 2, 2]
