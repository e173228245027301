"""Bearer tokens: what the shared verifier accepts and every forgery it refuses."""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import jwt
import pytest
from django.test import Client

from servicekit import tokens
from servicekit.testing import TokenFactory, rsa_key


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_valid_access_token_authenticates_the_user(
    client: Client, token_factory: TokenFactory
) -> None:
    token = token_factory.access(7, username="ann", is_staff=True)

    response = client.get("/me", headers=bearer(token))

    assert response.status_code == 200
    assert response.json() == {"id": 7, "username": "ann", "is_staff": True}


def test_no_token_is_401_with_a_bearer_challenge(client: Client, token_factory) -> None:
    response = client.get("/me")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] == "not_authenticated"


def forged_tokens(factory: TokenFactory) -> dict[str, str]:
    claims = factory.claims(token_type="access", user_id=7, username="ann")
    valid = factory.sign(claims)
    header, payload, signature = valid.split(".")
    public_pem = factory.public_pem()
    hs256_header = {"alg": "HS256", "typ": "JWT", "kid": factory.kid}
    hs256_input = f"{b64(hs256_header)}.{payload}".encode()
    import hashlib
    import hmac

    hs256_signature = base64.urlsafe_b64encode(
        hmac.new(public_pem, hs256_input, hashlib.sha256).digest()
    ).rstrip(b"=")
    return {
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': factory.kid})}.{payload}.",
        "HS256 signed with the public key": f"{hs256_input.decode()}.{hs256_signature.decode()}",
        "another RSA key with a known kid": factory.sign(claims, key=rsa_key("attacker")),
        "unknown kid": factory.sign(claims, key=rsa_key("attacker"), kid="attacker-key"),
        "expired": factory.sign({**claims, "exp": int(time.time()) - 60}),
        "tampered payload": f"{header}.{b64({**claims, 'user_id': 1})}.{signature}",
        "refresh token used as access": factory.sign({**claims, "token_type": "refresh"}),
        "no jti": factory.sign({k: v for k, v in claims.items() if k != "jti"}),
        "not a JWT": "definitely-not-a-token",
    }


FORGERIES = list(forged_tokens(TokenFactory()).keys())


@pytest.mark.parametrize("forgery", FORGERIES)
def test_forged_tokens_are_refused_with_401(
    client: Client, token_factory: TokenFactory, forgery: str
) -> None:
    token = forged_tokens(token_factory)[forgery]

    response = client.get("/me", headers=bearer(token))

    assert response.status_code == 401, forgery
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] == "token_not_valid"


def test_expiry_allows_the_configured_leeway(client: Client, token_factory) -> None:
    # given a token that expired 2 s ago, within the default 5 s leeway
    claims = token_factory.claims(token_type="access", user_id=3, username="bo")
    token = token_factory.sign({**claims, "exp": int(time.time()) - 2})

    assert client.get("/me", headers=bearer(token)).status_code == 200


def test_a_revoked_access_token_is_refused(client: Client, token_factory) -> None:
    token = token_factory.access(5)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert client.get("/me", headers=bearer(token)).status_code == 200

    tokens.revoke(claims["jti"], expires_at=claims["exp"])
    response = client.get("/me", headers=bearer(token))

    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_revocation_fails_open_when_redis_is_down(
    client: Client, token_factory, settings, closed_port: int
) -> None:
    token = token_factory.access(5)
    settings.SERVICEKIT = {**settings.SERVICEKIT, "REDIS_URL": f"redis://127.0.0.1:{closed_port}/0"}

    response = client.get("/me", headers=bearer(token))

    assert response.status_code == 200


def test_a_key_rotated_in_just_after_a_fetch_is_accepted_at_once(
    client: Client, token_factory: TokenFactory
) -> None:
    # given a key set fetched a moment ago (well within JWKS_REFETCH_INTERVAL)
    assert client.get("/me", headers=bearer(token_factory.access(1))).status_code == 200
    # when user-service rotates a new key in and signs a token with it
    rotated = TokenFactory(kid="test-key-2")
    previous_jwks = token_factory.jwks()
    token_factory.jwks = lambda: {"keys": previous_jwks["keys"] + rotated.jwks()["keys"]}  # type: ignore[method-assign]

    # then that token is accepted after one refetch, not refused until the interval passes
    response = client.get("/me", headers=bearer(rotated.access(2)))

    assert response.status_code == 200
    # and tokens signed with the previous key stay valid
    assert client.get("/me", headers=bearer(token_factory.access(1))).status_code == 200


def test_unknown_kids_refetch_the_key_set_at_most_once_per_interval(
    client: Client, token_factory: TokenFactory
) -> None:
    fetches: list[float] = []
    jwks = token_factory.jwks

    def counted_jwks() -> dict[str, Any]:
        fetches.append(time.monotonic())
        return jwks()

    token_factory.jwks = counted_jwks  # type: ignore[method-assign]
    assert client.get("/me", headers=bearer(token_factory.access(1))).status_code == 200
    fetched = len(fetches)

    # when a caller sends many tokens with made-up kids
    for n in range(20):
        forged = TokenFactory(kid=f"made-up-{n}").access(1)
        assert client.get("/me", headers=bearer(forged)).status_code == 401

    # then user-service's JWKS was asked once more, not twenty times
    assert len(fetches) == fetched + 1


class SlowJwks:
    """A JWKS provider that holds its answer until released, counting the fetches."""

    def __init__(self, jwks: Any) -> None:
        self.jwks = jwks
        self.fetching = threading.Event()
        self.release = threading.Event()
        self.fetches = 0

    def __call__(self) -> dict[str, Any]:
        self.fetches += 1
        self.fetching.set()
        assert self.release.wait(10)
        return dict(self.jwks())


def key_for_in_thread(kid: str, results: dict[str, Any]) -> threading.Thread:
    def run() -> None:
        try:
            results[threading.current_thread().name] = tokens.keyset.key_for(kid)
        except tokens.InvalidToken as exc:
            results[threading.current_thread().name] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_until_blocked(thread: threading.Thread) -> None:
    """Give a thread that must now wait on the key set's lock time to get there."""
    thread.join(0.3)
    assert thread.is_alive()


@pytest.mark.parametrize("first_kid", ["same key", "another key"])
def test_requests_arriving_during_a_key_fetch_wait_for_it(
    token_factory: TokenFactory, first_kid: str
) -> None:
    # given a process that has not fetched the keys yet (or one that meets a rotated
    # key: the first request asks for a kid not yet known), whose fetch is slow
    published = list(token_factory.jwks()["keys"])
    slow = SlowJwks(lambda: {"keys": list(published)})
    token_factory.jwks = slow  # type: ignore[method-assign]
    kid = token_factory.kid
    if first_kid == "another key":
        slow.release.set()
        tokens.keyset.key_for(token_factory.kid)  # the keys as they were before
        slow.release.clear()
        slow.fetching.clear()
        slow.fetches = 0
        rotated = TokenFactory(kid="test-key-2")
        published += rotated.jwks()["keys"]
        kid = rotated.kid
    results: dict[str, Any] = {}

    # when one request starts the fetch and another with the same kid arrives meanwhile
    first = key_for_in_thread(kid, results)
    assert slow.fetching.wait(5)
    second = key_for_in_thread(kid, results)
    wait_until_blocked(second)
    slow.release.set()
    first.join(5)
    second.join(5)

    # then both get the key, from one fetch
    key = tokens.keyset.current(kid)
    assert key is not None
    assert results == {first.name: key, second.name: key}
    assert slow.fetches == 1


def test_user_tokens_are_refused_on_service_endpoints(client: Client, token_factory) -> None:
    response = client.get("/internal/ping", headers=bearer(token_factory.access(1)))

    assert response.status_code == 403


def test_anonymous_calls_to_service_endpoints_are_401(client: Client, token_factory) -> None:
    assert client.get("/internal/ping").status_code == 401


def test_service_tokens_reach_service_endpoints_but_not_user_ones(
    client: Client, token_factory
) -> None:
    token = token_factory.service("notification-service", scope="users:read")

    assert client.get("/internal/ping", headers=bearer(token)).json() == {
        "client_id": "notification-service"
    }
    assert client.get("/me", headers=bearer(token)).status_code == 403


def test_verify_can_leave_the_revocation_check_to_the_caller(token_factory) -> None:
    # given a revoked token
    token = token_factory.access(5)
    claims = jwt.decode(token, options={"verify_signature": False})
    tokens.revoke(claims["jti"], expires_at=claims["exp"])

    # then the default verify refuses it, and check_revocation=False leaves that to the caller
    with pytest.raises(tokens.InvalidToken, match="revoked"):
        tokens.verify(token)
    assert tokens.verify(token, check_revocation=False)["jti"] == claims["jti"]


class JwksServer:
    """A real HTTP server answering with a JWKS, the way user-service does."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        body = json.dumps(jwks).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        import threading

        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_new_process_verifies_tokens_while_the_jwks_url_is_down(
    client: Client, token_factory: TokenFactory, settings
) -> None:
    # given keys fetched once over HTTP (and remembered in Redis)
    server = JwksServer(token_factory.jwks())
    settings.SERVICEKIT = {**settings.SERVICEKIT, "JWKS_PROVIDER": None, "JWKS_URL": server.url}
    tokens.keyset.clear()
    assert client.get("/me", headers=bearer(token_factory.access(1))).status_code == 200

    # when user-service goes away and a fresh process (empty key cache) gets a token
    server.stop()
    tokens.keyset.clear()
    response = client.get("/me", headers=bearer(token_factory.access(1)))

    # then the last known keys verify it
    assert response.status_code == 200
    # and without them (nothing remembered either) the token cannot be checked: 401
    from servicekit.redis import get_redis

    get_redis().delete(tokens.LAST_KNOWN_JWKS_PREFIX + server.url)
    tokens.keyset.clear()
    assert client.get("/me", headers=bearer(token_factory.access(1))).status_code == 401


# --- the cache of verified tokens (tokens.verify(..., cache=True)) -----------------------


@pytest.fixture
def fresh_cache() -> Any:
    tokens.verified_tokens.clear()
    yield tokens.verified_tokens
    tokens.verified_tokens.clear()


def test_a_cached_token_has_its_signature_checked_once(
    token_factory: TokenFactory, fresh_cache, monkeypatch
) -> None:
    decoded: list[str] = []
    real_decode = jwt.decode

    def counting_decode(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    token = token_factory.access(5)

    claims = [tokens.verify(token, cache=True) for _ in range(3)]

    assert [c["user_id"] for c in claims] == [5, 5, 5]
    assert decoded == [token]
    # and without cache=True nothing is cached: each call checks the signature
    tokens.verify(token_factory.access(6))
    tokens.verify(token_factory.access(6))
    assert len(decoded) == 3


def test_a_cached_token_is_refused_once_it_expires(
    token_factory: TokenFactory, fresh_cache, settings
) -> None:
    settings.SERVICEKIT = {**settings.SERVICEKIT, "JWT_LEEWAY_SECONDS": 0}
    claims = token_factory.claims(token_type="access", user_id=3, username="bo", lifetime=1)
    token = token_factory.sign(claims)
    assert tokens.verify(token, cache=True)["user_id"] == 3

    time.sleep(max(0.0, claims["exp"] - time.time()) + 0.1)

    with pytest.raises(tokens.InvalidToken, match="expired"):
        tokens.verify(token, cache=True)


def test_a_cached_token_is_still_checked_for_revocation_and_type(
    token_factory: TokenFactory, fresh_cache
) -> None:
    token = token_factory.access(5)
    claims = tokens.verify(token, cache=True)

    with pytest.raises(tokens.InvalidToken, match="type"):
        tokens.verify(token, expected_type=tokens.REFRESH, cache=True)
    tokens.revoke(claims["jti"], expires_at=claims["exp"])
    with pytest.raises(tokens.InvalidToken, match="revoked"):
        tokens.verify(token, cache=True)


def test_a_key_dropped_from_the_key_set_ends_its_cached_tokens(
    token_factory: TokenFactory, fresh_cache, settings
) -> None:
    token = token_factory.access(5)
    assert tokens.verify(token, cache=True)["user_id"] == 5

    # when user-service rotates the key out and the key set is fetched again
    rotated = TokenFactory(kid="test-key-2")
    token_factory.jwks = rotated.jwks  # type: ignore[method-assign]
    settings.SERVICEKIT = {**settings.SERVICEKIT, "JWKS_CACHE_SECONDS": 0}

    with pytest.raises(tokens.InvalidToken, match="unknown key"):
        tokens.verify(token, cache=True)


def test_cached_claims_cannot_be_changed_by_a_caller(
    token_factory: TokenFactory, fresh_cache
) -> None:
    token = token_factory.access(5)
    tokens.verify(token, cache=True)["user_id"] = 1

    assert tokens.verify(token, cache=True)["user_id"] == 5


def test_the_cache_keeps_only_the_most_recently_used_tokens(token_factory: TokenFactory) -> None:
    cache = tokens.VerifiedTokens(maxsize=2)
    key = tokens.keyset.key_for(token_factory.kid)
    exp = time.time() + 60
    for name in ("a", "b"):
        cache.put(name, {"exp": exp}, key, token_factory.kid)

    assert cache.get("a") is not None  # "a" is now the most recent
    cache.put("c", {"exp": exp}, key, token_factory.kid)

    assert len(cache) == 2
    assert cache.get("b") is None
    assert cache.get("a") is not None
    assert cache.get("c") is not None


def test_a_service_checks_a_tokens_signature_once_across_requests(
    client: Client, token_factory: TokenFactory, fresh_cache, monkeypatch
) -> None:
    checked: list[bytes] = []
    real_verify = jwt.algorithms.RSAAlgorithm.verify

    def counting_verify(self: Any, msg: bytes, key: Any, sig: bytes) -> bool:
        checked.append(sig)
        return bool(real_verify(self, msg, key, sig))

    monkeypatch.setattr(jwt.algorithms.RSAAlgorithm, "verify", counting_verify)
    token = token_factory.access(7, username="ann")

    answers = [client.get("/me", headers=bearer(token)).status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    assert len(checked) == 1
