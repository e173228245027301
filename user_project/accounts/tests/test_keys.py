"""Signing keys: the commands, the key sources, and what a bad configuration says."""

from __future__ import annotations

import io
import stat
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from django.core.management import call_command
from django.test import Client
from servicekit.testing import rsa_key, run_manage

from accounts import keys


def run(command: str) -> str:
    out = io.StringIO()
    call_command(command, stdout=out)
    return out.getvalue()


def test_ensure_signing_key_creates_one_private_key_once(tmp_path: Path, settings) -> None:
    settings.JWT_KEY_DIR = tmp_path / "var" / "keys" / "user-service"

    first, second = run("ensure_signing_key"), run("ensure_signing_key")

    files = list(settings.JWT_KEY_DIR.glob("*.pem"))
    assert len(files) == 1
    assert "Created" in first
    assert "existing" in second
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.JWT_KEY_DIR.stat().st_mode) == 0o700


def test_rotation_drops_keys_no_live_token_can_need(signing_key_dir: Path) -> None:
    # given a key retired long ago (its successor is older than any token lifetime),
    # and that successor, retired only now by the test's key
    (current,) = (p.stem for p in signing_key_dir.glob("*.pem"))
    ancient = signing_key_dir / "20200101T000000000000Z-ancient0.pem"
    successor = signing_key_dir / "20200102T000000000000Z-success0.pem"
    pem = rsa_key("old").private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    ancient.write_bytes(pem)
    successor.write_bytes(pem)

    output = run("rotate_signing_key")

    assert "Removed expired key 20200101T000000000000Z-ancient0" in output
    assert not ancient.exists()
    ring = keys.key_ring()
    # keys retired recently stay trusted, newest first; the one retired long ago is gone
    assert [key.kid for key in ring.previous] == [current, successor.stem]


def test_a_fixed_key_from_the_environment_signs_with_a_stable_kid(settings, db) -> None:
    private = rsa_key("fixed")
    settings.JWT_SIGNING_KEY_PEM = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()

    token = keys.sign({"hello": "world"})

    kid = jwt.get_unverified_header(token)["kid"]
    assert kid == keys.thumbprint(private.public_key())[:16]
    assert jwt.decode(token, private.public_key(), algorithms=["RS256"]) == {"hello": "world"}
    assert keys.jwks()["keys"][0]["kid"] == kid


def test_readiness_fails_naming_the_missing_key(client: Client, settings, tmp_path, db) -> None:
    settings.JWT_KEY_DIR = tmp_path / "empty"

    response = client.get("/health/ready")

    assert response.status_code == 503
    check = response.json()["checks"]["signing_key"]
    assert check["status"] == "unavailable"
    assert "ensure_signing_key" in check["error"]


PRODUCTION = {
    "DJANGO_ENV": "production",
    "DJANGO_SECRET_KEY": "a-real-secret",
    "DATABASE_URL": "sqlite:////tmp/user-keys-test.sqlite3",
    "REDIS_URL": "redis://127.0.0.1:6379/7",
    "SERVICE_CLIENTS": "notification-service:s3cret",
    "JWT_PRIVATE_KEY": "",
    "JWT_PRIVATE_KEY_FILE": "",
    "JWT_KEY_DIR": "",
}


def test_production_without_a_signing_key_stops_with_one_line() -> None:
    result = run_manage("check", env=PRODUCTION)

    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("user-service: configuration error: JWT_PRIVATE_KEY: must be set")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("JWT_PRIVATE_KEY", "not a key", "JWT_PRIVATE_KEY: is not an unencrypted private key"),
        ("JWT_PRIVATE_KEY_FILE", "/no/such/key.pem", "JWT_PRIVATE_KEY_FILE: cannot read"),
        ("SERVICE_CLIENTS", "stranger:x", "SERVICE_CLIENTS: 'stranger' is not client_id:secret"),
        ("USER_LOGIN_RATE_LIMIT", "lots", "USER_LOGIN_RATE_LIMIT: 'lots' is not a rate"),
        ("TRUSTED_PROXIES", "localhost", "TRUSTED_PROXIES: 'localhost' is not an IP"),
        ("JWT_ACCESS_LIFETIME_SECONDS", "-5", "JWT_ACCESS_LIFETIME_SECONDS: '-5' must be"),
    ],
)
def test_bad_key_and_client_settings_stop_the_service_with_one_line(
    variable: str, value: str, message: str
) -> None:
    result = run_manage("check", env={variable: value})

    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"user-service: configuration error: {message}")


def test_a_key_written_by_rotation_is_picked_up_without_a_restart(signing_key_dir: Path) -> None:
    before = keys.key_ring().current.kid
    time.sleep(0.01)  # a distinct modification time of the directory

    keys.rotate_key(signing_key_dir, keep_seconds=keys.keep_seconds())

    assert keys.key_ring().current.kid != before
