"""Verifying the RS256 tokens user-service signs, and the access-token denylist.

Every service (and the gateway) verifies tokens itself: signature with a key
from user-service's JWKS (by ``kid``), algorithm pinned to RS256, expiry with a
small leeway, token type, and the ``jti`` denylist in Redis.

Keys come from ``SERVICEKIT["JWKS_URL"]`` (cached ``JWKS_CACHE_SECONDS``; an
unknown ``kid`` triggers at most one refetch per ``JWKS_REFETCH_INTERVAL``), or,
inside user-service, from the callable named by ``SERVICEKIT["JWKS_PROVIDER"]``.

A caller that sees the same token many times (the gateway) may pass
``cache=True``: the claims of a verified token are then kept, by the raw token
string, in a bounded LRU until the token expires (:class:`VerifiedTokens`), so
the signature is checked once per token rather than once per request. What
must still be asked each time is asked each time: expiry, token type and, when
requested, the denylist.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import OrderedDict
from typing import Any

import jwt
import redis
import requests
from django.utils.module_loading import import_string

from servicekit.redis import get_redis
from servicekit.settings import servicekit_settings

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
ACCESS = "access"
REFRESH = "refresh"
SERVICE = "service"
DENYLIST_PREFIX = "revoked-jti:"


class InvalidToken(Exception):
    """The token must be refused; the message says why (safe to show to the caller)."""


class KeySet:
    """The public keys by ``kid``, refreshed from the JWKS when stale or on an unknown ``kid``.

    One request fetches at a time; the others wait for its result rather than
    fetching again, or refusing a token whose key is on its way.
    """

    def __init__(self) -> None:
        self._keys: dict[str, Any] = {}
        # Never fetched is stale whatever the clock says (a machine's monotonic clock
        # starts near zero at boot).
        self._fetched_at = -math.inf
        # Refetches caused by an unknown kid are limited on their own clock: a routine
        # fetch just before a rotation must not make the new key wait for the interval.
        self._unknown_kid_fetched_at = -math.inf
        self._lock = threading.Lock()

    def key_for(self, kid: str) -> Any:
        self._refresh_if_stale()
        key = self._keys.get(kid)
        if key is None:
            with self._lock:  # a fetch in flight may be bringing it
                key = self._keys.get(kid)
                now = time.monotonic()
                interval = servicekit_settings.JWKS_REFETCH_INTERVAL
                if key is None and now - self._unknown_kid_fetched_at > interval:
                    self._unknown_kid_fetched_at = now
                    self._fetch(now)
                    key = self._keys.get(kid)
        if key is None:
            raise InvalidToken("Token is signed with an unknown key.")
        return key

    def current(self, kid: str) -> Any:
        """The key now known for ``kid`` (``None`` if none); refreshes a stale set first."""
        self._refresh_if_stale()
        return self._keys.get(kid)

    def clear(self) -> None:
        with self._lock:
            self._keys, self._fetched_at = {}, -math.inf
            self._unknown_kid_fetched_at = -math.inf

    def _is_stale(self) -> bool:
        return time.monotonic() - self._fetched_at > servicekit_settings.JWKS_CACHE_SECONDS

    def _refresh_if_stale(self) -> None:
        if self._is_stale():
            with self._lock:
                if self._is_stale():  # not already refreshed by the request we waited for
                    self._fetch(time.monotonic())

    def _fetch(self, now: float) -> None:
        """Fetch the key set; the caller holds the lock."""
        try:
            jwks = _load_jwks()
        except (requests.RequestException, ValueError) as exc:
            # Keep the keys we have; a user-service blip must not log everyone out.
            logger.warning("jwks_fetch_failed", extra={"error": str(exc)})
            self._fetched_at = now
            return
        keys = {}
        for entry in jwks.get("keys", []):
            if entry.get("kty") == "RSA" and entry.get("kid"):
                keys[entry["kid"]] = jwt.PyJWK.from_dict(entry, algorithm=ALGORITHM).key
        self._keys, self._fetched_at = keys, now


def _load_jwks() -> dict[str, Any]:
    provider = servicekit_settings.JWKS_PROVIDER
    if provider:
        return dict(import_string(provider)())
    url = servicekit_settings.JWKS_URL
    if not url:
        raise ValueError("neither SERVICEKIT['JWKS_URL'] nor ['JWKS_PROVIDER'] is set")
    try:
        response = requests.get(url, timeout=(1.0, 3.0))
        response.raise_for_status()
        jwks = dict(response.json())
    except (requests.RequestException, ValueError):
        # A process that starts (or a gunicorn worker that forks) while user-service
        # is down still knows the keys: the last set any process fetched, in Redis.
        remembered = _last_known_jwks(url)
        if remembered is None:
            raise
        logger.warning("jwks_fetch_failed_using_last_known_keys", extra={"url": url})
        return remembered
    _remember_jwks(url, jwks)
    return jwks


LAST_KNOWN_JWKS_PREFIX = "jwks:last-known:"
LAST_KNOWN_JWKS_SECONDS = 24 * 3600


def _remember_jwks(url: str, jwks: dict[str, Any]) -> None:
    """Public keys only: safe to share; kept a day, longer than any key stays listed."""
    try:
        get_redis().set(LAST_KNOWN_JWKS_PREFIX + url, json.dumps(jwks), ex=LAST_KNOWN_JWKS_SECONDS)
    except redis.RedisError as exc:
        logger.warning("jwks_remember_failed", extra={"error": str(exc)})


def _last_known_jwks(url: str) -> dict[str, Any] | None:
    try:
        raw = get_redis().get(LAST_KNOWN_JWKS_PREFIX + url)
    except redis.RedisError:
        return None
    return dict(json.loads(raw)) if raw else None


keyset = KeySet()


class VerifiedTokens:
    """Tokens whose signature has been checked: raw token → (claims, key, kid), LRU-bounded.

    An entry is used only while the token has not expired (``exp`` plus the
    leeway, read at each use) and while ``kid`` still maps to the very key that
    verified it: a key set that is refreshed or rotated (new key objects)
    makes every entry verify once more; a key dropped from the JWKS ends its
    tokens at once.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[str, tuple[dict[str, Any], Any, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(token)
            if entry is not None:
                self._entries.move_to_end(token)
        if entry is None:
            return None
        claims, key, kid = entry
        if (
            time.time() >= claims["exp"] + servicekit_settings.JWT_LEEWAY_SECONDS
            or keyset.current(kid) is not key
        ):
            with self._lock:
                self._entries.pop(token, None)
            return None
        return claims

    def put(self, token: str, claims: dict[str, Any], key: Any, kid: str) -> None:
        if not isinstance(claims.get("exp"), int | float):
            return  # only tokens with a usable expiry are kept
        with self._lock:
            self._entries[token] = (claims, key, kid)
            self._entries.move_to_end(token)
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


# Enough for every token a gateway worker sees in a few minutes (a few MB at most).
VERIFIED_TOKENS_MAXSIZE = 4096
verified_tokens = VerifiedTokens(VERIFIED_TOKENS_MAXSIZE)


def verify(
    token: str,
    *,
    expected_type: str | tuple[str, ...] = ACCESS,
    check_revocation: bool = True,
    cache: bool = False,
) -> dict[str, Any]:
    """The token's claims, or :class:`InvalidToken` saying what is wrong with it.

    ``expected_type`` is the ``token_type`` to accept, or a tuple of them.

    ``check_revocation=False`` skips the denylist lookup for a caller that checks
    ``DENYLIST_PREFIX + jti`` itself (the gateway, in the same Redis round trip as
    its rate limit). ``cache=True`` reuses an earlier signature check of the same
    token string (:class:`VerifiedTokens`); the returned dict is the caller's own.
    """
    claims = verified_tokens.get(token) if cache else None
    if claims is None:
        claims = _verify_signature(token, cache=cache)
    accepted = (expected_type,) if isinstance(expected_type, str) else expected_type
    if claims.get("token_type") not in accepted:
        raise InvalidToken(f"Token type must be {' or '.join(map(repr, accepted))}.")
    if check_revocation and is_revoked(claims["jti"]):
        raise InvalidToken("Token has been revoked.")
    return dict(claims) if cache else claims


def _verify_signature(token: str, *, cache: bool) -> dict[str, Any]:
    """Header, signature, algorithm, expiry and required claims; the claims if all hold."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        raise InvalidToken("Token is malformed.") from None
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"Token algorithm must be {ALGORITHM}.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidToken("Token has no key id (kid).")
    key = keyset.key_for(kid)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            leeway=servicekit_settings.JWT_LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "jti", "token_type"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("Token has expired.") from None
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"Token is invalid: {exc}.") from None
    if cache:
        verified_tokens.put(token, dict(claims), key, kid)
    return claims


def revoke(jti: str, *, expires_at: float) -> None:
    """Deny an access token until it would have expired anyway."""
    ttl = int(expires_at - time.time()) + int(servicekit_settings.JWT_LEEWAY_SECONDS) + 1
    if ttl > 0:
        get_redis().set(f"{DENYLIST_PREFIX}{jti}", 1, ex=ttl)


def is_revoked(jti: str) -> bool:
    """Whether ``jti`` is on the denylist; fails open (with a warning) when Redis is down.

    Failing open keeps the API usable through a Redis outage; a revoked token
    then lives at most until it expires (minutes, by design of access tokens).
    """
    try:
        return bool(get_redis().exists(f"{DENYLIST_PREFIX}{jti}"))
    except redis.RedisError as exc:
        logger.warning("denylist_unavailable", extra={"error": str(exc)})
        return False
