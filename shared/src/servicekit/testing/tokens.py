"""Signing tokens in tests the way user-service does, with a key the code under test trusts."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator
from functools import cache
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from servicekit import tokens


@cache
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """One RSA key per name and test session (generating them is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class TokenFactory:
    """Signs tokens the way user-service does, with a key the service under test trusts.

    The service verifies them through its real code path: servicekit's
    ``JWKS_PROVIDER`` setting points at this factory's public key set.
    """

    def __init__(self, kid: str = "test-key-1") -> None:
        self.kid = kid
        self.private_key = rsa_key(kid)

    def jwks(self) -> dict[str, Any]:
        numbers = self.private_key.public_key().public_numbers()
        key = {"kty": "RSA", "kid": self.kid, "alg": "RS256", "use": "sig"}
        return {"keys": [{**key, "n": _b64(numbers.n), "e": _b64(numbers.e)}]}

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def claims(self, *, lifetime: int = 300, **claims: Any) -> dict[str, Any]:
        now = int(time.time())
        return {"iat": now, "exp": now + lifetime, "jti": uuid.uuid4().hex, **claims}

    def sign(self, claims: dict[str, Any], *, key: Any = None, kid: str | None = None) -> str:
        headers = {"kid": kid or self.kid}
        return jwt.encode(claims, key or self.private_key, algorithm="RS256", headers=headers)

    def access(
        self, user_id: int = 1, *, username: str = "alice", is_staff: bool = False, **extra: Any
    ) -> str:
        return self.sign(
            self.claims(
                token_type=tokens.ACCESS,
                user_id=user_id,
                sub=str(user_id),
                username=username,
                is_staff=is_staff,
                **extra,
            )
        )

    def service(self, client_id: str = "test-client", *, scope: str = "", **extra: Any) -> str:
        return self.sign(
            self.claims(
                token_type=tokens.SERVICE,
                sub=f"service:{client_id}",
                client_id=client_id,
                scope=scope,
                **extra,
            )
        )


_active_factory: TokenFactory | None = None


def jwks_provider() -> dict[str, Any]:
    """``JWKS_PROVIDER`` while the ``token_factory`` fixture is active."""
    assert _active_factory is not None, "use the token_factory fixture"
    return _active_factory.jwks()


@pytest.fixture
def token_factory(settings: Any) -> Iterator[TokenFactory]:
    """Tokens the code under test accepts as user-service's."""
    global _active_factory
    _active_factory = TokenFactory()
    settings.SERVICEKIT = {
        **settings.SERVICEKIT,
        "JWKS_PROVIDER": "servicekit.testing.tokens.jwks_provider",
        "JWKS_URL": None,
    }
    tokens.keyset.clear()
    yield _active_factory
    tokens.keyset.clear()
    _active_factory = None
