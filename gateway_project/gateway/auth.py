"""Token checks at the door: a bad token is refused before any upstream is called.

Signature, algorithm, expiry and type are checked by ``servicekit.tokens`` (the
same verifier every service uses), with its cache of verified tokens on: a
client sends the same token with every request, and the RS256 check (and the
parsing around it) is the most expensive thing the gateway would otherwise
do per request. Revocation is left out of that call on purpose: the gateway
asks Redis about the ``jti`` on every request, in the same round trip as the
rate limit (:mod:`gateway.ratelimit`).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from servicekit import tokens

REALM = "api"


class Unauthorized(Exception):
    """Answer 401; ``code`` is ``not_authenticated`` or ``token_not_valid``."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code

    def response(self) -> JsonResponse:
        response = JsonResponse({"detail": self.detail, "code": self.code}, status=401)
        challenge = f'Bearer realm="{REALM}"'
        if self.code == "token_not_valid":
            # RFC 6750 section 3: say that the token, not the request, is the problem.
            description = self.detail.replace('"', "'")
            challenge += f', error="invalid_token", error_description="{description}"'
        response["WWW-Authenticate"] = challenge
        return response


def revoked() -> Unauthorized:
    return Unauthorized("Token has been revoked.", "token_not_valid")


def verify_bearer(request: HttpRequest) -> dict[str, Any]:
    """The access token's claims, or :class:`Unauthorized`."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        raise Unauthorized("Authentication credentials were not provided.", "not_authenticated")
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials or " " in credentials:
        raise Unauthorized("Authorization header must be 'Bearer <token>'.", "not_authenticated")
    try:
        return tokens.verify(
            credentials, expected_type=tokens.ACCESS, check_revocation=False, cache=True
        )
    except tokens.InvalidToken as exc:
        raise Unauthorized(str(exc), "token_not_valid") from None
