import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from servicekit import tokens
from servicekit.redis import get_redis

from accounts import keys

# Fixtures every test may use: servicekit's, and accounts' users and API clients.
pytest_plugins = ["servicekit.testing", "accounts.tests.fixtures"]

# Redis keys user-service writes; cleared around each test (ids repeat between tests).
REDIS_PREFIXES = ("revoked-jti:", "issued-jti:", "login-attempts:")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2's million rounds are right in production and pointless in tests."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def _session_signing_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated key per test session (generating RSA keys is slow), copied into each test."""
    directory = tmp_path_factory.mktemp("session-keys")
    key, _ = keys.ensure_key(directory)
    return directory / f"{key.kid}.pem"


@pytest.fixture(autouse=True)
def signing_key_dir(settings, tmp_path: Path, _session_signing_key: Path) -> Iterator[Path]:
    """A key directory of the test's own, holding one key: rotations stay inside the test."""
    directory = tmp_path / "keys"
    directory.mkdir(mode=0o700)
    shutil.copy(_session_signing_key, directory / _session_signing_key.name)
    settings.JWT_KEY_DIR = directory
    settings.JWT_SIGNING_KEY_PEM = ""
    tokens.keyset.clear()
    yield directory
    tokens.keyset.clear()


@pytest.fixture(autouse=True)
def _clean_redis() -> Iterator[None]:
    def clean() -> None:
        client = get_redis()
        for prefix in REDIS_PREFIXES:
            for key in client.scan_iter(match=f"{prefix}*", count=500):
                client.delete(key)

    clean()
    yield
    clean()
