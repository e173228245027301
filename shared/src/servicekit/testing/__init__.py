"""Test helpers every project uses, like ``rest_framework.test``.

Register the fixtures with ``pytest_plugins = ["servicekit.testing"]`` in a
project's ``conftest.py``; then subclass :class:`ServiceContract` and use the
``token_factory``, ``closed_port_url`` and ``http_peers`` fixtures.
"""

from servicekit.testing.contract import ServiceContract, closed_port_url, run_manage
from servicekit.testing.peers import DropConnection, HttpPeer, ReceivedRequest, http_peers
from servicekit.testing.servers import (
    RedisServer,
    free_port,
    free_ports,
    port_is_listening,
    redis_server_binary,
    wait_for,
)
from servicekit.testing.tokens import TokenFactory, jwks_provider, rsa_key, token_factory

__all__ = [
    "DropConnection",
    "HttpPeer",
    "ReceivedRequest",
    "RedisServer",
    "ServiceContract",
    "TokenFactory",
    "closed_port_url",
    "free_port",
    "free_ports",
    "http_peers",
    "jwks_provider",
    "port_is_listening",
    "redis_server_binary",
    "rsa_key",
    "run_manage",
    "token_factory",
    "wait_for",
]
