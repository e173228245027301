"""user-service's RSA signing keys: the current key signs, previous keys still verify.

Where the keys come from (``settings.py`` reads the environment):

* ``JWT_PRIVATE_KEY`` (PEM text) or ``JWT_PRIVATE_KEY_FILE``: one fixed key,
  e.g. from a secret manager. Rotating it means deploying a new one.
* otherwise a key directory, ``JWT_KEY_DIR`` (in development
  ``$VAR_DIR/keys/user-service/``): one PEM file per key, named
  ``<kid>.pem`` where the kid starts with its creation time, so the newest file
  is the current key. ``manage.py rotate_signing_key`` adds a new one; a
  previous key stays listed in the JWKS (and trusted) until every token it
  signed has expired, then it is dropped.

Processes notice a rotation without a restart: the directory's modification
time is part of the cache key.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from servicekit.settings import servicekit_settings

if TYPE_CHECKING:
    from servicekit.health import CheckResult

ALGORITHM = "RS256"
KEY_SIZE = 2048
_KEY_FILE = re.compile(r"^(?P<kid>\d{8}T\d{12}Z-[A-Za-z0-9_-]{8})\.pem$")


class SigningKeyMissing(Exception):
    """There is no key to sign with (the message says how to make one)."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey = field(repr=False)
    created_at: float = 0.0

    def public_jwk(self) -> dict[str, str]:
        numbers = self.private_key.public_key().public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
            "n": _b64(numbers.n),
            "e": _b64(numbers.e),
        }


@dataclass(frozen=True)
class KeyRing:
    """The current key and the previous ones that still verify."""

    current: SigningKey
    previous: tuple[SigningKey, ...] = ()

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        for key in (self.current, *self.previous):
            if key.kid == kid:
                return key.private_key.public_key()
        return None

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.public_jwk() for key in (self.current, *self.previous)]}


# --- keys and files -----------------------------------------------------------


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """The RFC 7638 JWK thumbprint: the same key always gets the same id."""
    numbers = public_key.public_numbers()
    canonical = json.dumps(
        {"e": _b64(numbers.e), "kty": "RSA", "n": _b64(numbers.n)},
        separators=(",", ":"),
        sort_keys=True,
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def parse_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM, or ``ValueError`` saying what it is not."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ValueError("is not an unencrypted private key in PEM format") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < KEY_SIZE:
        raise ValueError(f"must be an RSA key of at least {KEY_SIZE} bits (RS256)")
    return key


def key_from_pem(pem: bytes) -> SigningKey:
    """A fixed key (``JWT_PRIVATE_KEY``/``_FILE``); its kid is derived from the key itself."""
    private_key = parse_private_key(pem)
    return SigningKey(kid=thumbprint(private_key.public_key())[:16], private_key=private_key)


def _pem(private_key: rsa.RSAPrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Serialise writers (two ``rotate`` commands at once must not both add a key)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _key_files(directory: Path) -> list[tuple[str, Path]]:
    """``(kid, path)`` oldest first; other files in the directory are ignored."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _KEY_FILE.match(path.name)
        if match:
            found.append((match["kid"], path))
    return sorted(found)


def _created_at(kid: str) -> float:
    return datetime.strptime(kid[:22], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC).timestamp()


def _write_new_key(directory: Path) -> SigningKey:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    now = datetime.now(UTC)
    kid = f"{now:%Y%m%dT%H%M%S%f}Z-{thumbprint(private_key.public_key())[:8]}"
    # Written to a private temporary file first, so no reader ever sees half a key.
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".new-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(_pem(private_key))
        os.replace(temporary, directory / f"{kid}.pem")
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return SigningKey(kid=kid, private_key=private_key, created_at=now.timestamp())


def ensure_key(directory: Path) -> tuple[SigningKey, bool]:
    """The current key of ``directory``, creating the first one if there is none."""
    with _locked(directory):
        files = _key_files(directory)
        if files:
            kid, path = files[-1]
            return SigningKey(kid, parse_private_key(path.read_bytes()), _created_at(kid)), False
        return _write_new_key(directory), True


def rotate_key(directory: Path, *, keep_seconds: float) -> tuple[SigningKey, list[str]]:
    """Add a new current key; delete previous keys retired more than ``keep_seconds`` ago.

    A key is retired when the next one is created; tokens it signed live at
    most ``keep_seconds`` (the longest token lifetime plus leeway) after that.
    """
    with _locked(directory):
        new = _write_new_key(directory)
        removed = []
        files = _key_files(directory)
        for (kid, path), (successor, _) in itertools.pairwise(files):
            if _created_at(successor) + keep_seconds < time.time():
                path.unlink()
                removed.append(kid)
        return new, removed


def read_key_dir(directory: Path, *, keep_seconds: float) -> KeyRing:
    """The newest key signs; older ones verify while tokens they signed may still be alive."""
    files = _key_files(directory)
    if not files:
        raise SigningKeyMissing(
            f"no signing key in {directory}; create one with "
            "`python manage.py ensure_signing_key` (or set JWT_PRIVATE_KEY)"
        )
    keys = [
        SigningKey(kid, parse_private_key(path.read_bytes()), _created_at(kid))
        for kid, path in files
    ]
    now = time.time()
    previous = [
        key
        for key, successor in itertools.pairwise(keys)
        if successor.created_at + keep_seconds >= now
    ]
    return KeyRing(current=keys[-1], previous=tuple(reversed(previous)))


# --- what the rest of user-service uses ----------------------------------------


def keep_seconds() -> float:
    """How long a retired key must keep verifying: the longest token lifetime, plus leeway."""
    longest = max(
        settings.JWT_ACCESS_LIFETIME_SECONDS,
        settings.JWT_REFRESH_LIFETIME_SECONDS,
        settings.SERVICE_TOKEN_LIFETIME_SECONDS,
    )
    return float(longest + servicekit_settings.JWT_LEEWAY_SECONDS)


_cache: tuple[tuple[Any, ...], KeyRing] | None = None


def key_ring() -> KeyRing:
    """This process's view of the keys, re-read when the key directory changes."""
    global _cache
    pem: str | None = settings.JWT_SIGNING_KEY_PEM
    directory = Path(settings.JWT_KEY_DIR)
    if pem:
        cache_key: tuple[Any, ...] = ("pem", pem)
    else:
        try:
            modified = directory.stat().st_mtime_ns
        except FileNotFoundError:
            modified = None
        # The minute is part of the key so that an expired previous key is dropped in time.
        cache_key = ("dir", str(directory), modified, int(time.time() // 60))
    if _cache is not None and _cache[0] == cache_key:
        return _cache[1]
    if pem:
        ring = KeyRing(current=key_from_pem(pem.encode()))
    else:
        ring = read_key_dir(directory, keep_seconds=keep_seconds())
    _cache = (cache_key, ring)
    return ring


def jwks() -> dict[str, Any]:
    """The public key set: ``/.well-known/jwks.json``, and servicekit's ``JWKS_PROVIDER`` here."""
    return key_ring().jwks()


def sign(payload: dict[str, Any]) -> str:
    """A compact RS256 JWT signed with the current key, its ``kid`` in the header."""
    current = key_ring().current
    return jwt.encode(
        payload, current.private_key, algorithm=ALGORITHM, headers={"kid": current.kid}
    )


def check_signing_key() -> Iterator[CheckResult]:
    """Readiness: user-service cannot log anybody in without a key."""
    # Imported here: settings.py imports this module before apps are loaded.
    from servicekit.health import timed_check

    yield timed_check("signing_key", key_ring)
