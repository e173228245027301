"""The tokens user-service issues: simplejwt's, signed with our key ring.

simplejwt creates, refreshes and blacklists the user tokens; its
``TokenBackend`` signs with one fixed key and writes no ``kid``, so a small
subclass signs with the current key of :mod:`accounts.keys` (``kid`` in the
header) and verifies with whichever key the ``kid`` names. Service tokens
(client credentials) are plain JWTs signed the same way.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token
from servicekit import tokens as servicekit_tokens

from accounts import keys
from accounts.models import User


class KeyRingTokenBackend(TokenBackend):
    """simplejwt's backend, signing with the key ring's current key (and its ``kid``)."""

    def __init__(self) -> None:
        super().__init__(keys.ALGORITHM)

    def encode(self, payload: dict[str, Any]) -> str:
        return keys.sign(payload)

    def decode(self, token: Token | str, verify: bool = True) -> dict[str, Any]:
        raw = str(token)
        if not verify:
            return dict(jwt.decode(raw, options={"verify_signature": False}))
        try:
            kid = jwt.get_unverified_header(raw).get("kid")
            key = keys.key_ring().public_key(kid) if isinstance(kid, str) else None
            if key is None:
                raise TokenBackendError("Token is signed with an unknown key.")
            return dict(jwt.decode(raw, key, algorithms=[keys.ALGORITHM], leeway=self.get_leeway()))
        except jwt.ExpiredSignatureError:
            raise TokenBackendExpiredToken("Token is expired") from None
        except jwt.InvalidTokenError:
            raise TokenBackendError("Token is invalid") from None


token_backend = KeyRingTokenBackend()


class UserAccessToken(AccessToken):
    _token_backend = token_backend


class UserRefreshToken(RefreshToken):
    _token_backend = token_backend
    access_token_class = UserAccessToken


def _add_user_claims(token: Token, user: User) -> None:
    """What every service reads from a user token (docs/spec/api.md, "Tokens"), from the row now."""
    token["user_id"] = user.pk
    token["sub"] = str(user.pk)
    token["username"] = user.username
    token["is_staff"] = user.is_staff


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    expires_in: int
    access_claims: dict[str, Any]


def issue_token_pair(user: User) -> TokenPair:
    """A new refresh token (recorded as outstanding, so it can be blacklisted) and access token.

    The access token is built from the user row, not copied from the refresh
    token, so a changed username or staff flag shows up at the next refresh.
    """
    refresh = UserRefreshToken()
    _add_user_claims(refresh, user)
    refresh.outstand()
    access = UserAccessToken()
    _add_user_claims(access, user)
    return TokenPair(
        access=str(access),
        refresh=str(refresh),
        expires_in=int(settings.JWT_ACCESS_LIFETIME_SECONDS),
        access_claims=dict(access.payload),
    )


@dataclass(frozen=True)
class ServiceToken:
    access_token: str
    expires_in: int
    scope: str


def issue_service_token(*, client_id: str, scopes: list[str]) -> ServiceToken:
    """A short-lived token for another service (``token_type: service``)."""
    lifetime = int(settings.SERVICE_TOKEN_LIFETIME_SECONDS)
    now = int(time.time())
    scope = " ".join(scopes)
    claims = {
        "token_type": servicekit_tokens.SERVICE,
        "sub": f"service:{client_id}",
        "client_id": client_id,
        "scope": scope,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + lifetime,
    }
    return ServiceToken(access_token=keys.sign(claims), expires_in=lifetime, scope=scope)
