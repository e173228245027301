"""DRF authentication from bearer tokens, with no user table (stateless).

Services other than user-service build the caller from the token's claims:
an end user (:class:`TokenUser`, from an access token) or another service
(:class:`ServiceClient`, from a service token). Views choose who may call
them with :class:`IsEndUser` / :class:`IsServiceClient`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from servicekit import tokens

if TYPE_CHECKING:
    # Only for annotations: importing rest_framework.views here is circular when a
    # project names a subclass of BearerTokenAuthentication in DEFAULT_AUTHENTICATION_CLASSES
    # (DRF's views import reads that setting).
    from rest_framework.views import APIView


@dataclass(frozen=True)
class TokenUser:
    """The end user an access token speaks for."""

    id: int
    username: str
    is_staff: bool = False
    claims: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    is_authenticated = True
    is_anonymous = False
    is_active = True

    @property
    def pk(self) -> int:
        return self.id


@dataclass(frozen=True)
class ServiceClient:
    """Another service, calling with a service token (client credentials)."""

    client_id: str
    scopes: frozenset[str] = frozenset()
    claims: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_active = True
    id = None
    pk = None


def _parse_header(request: Request) -> str | None:
    header = authentication.get_authorization_header(request).decode("latin-1")
    if not header:
        return None
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    credentials = credentials.strip()
    if not credentials or " " in credentials:
        raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
    return credentials


# Access tokens (people) and service tokens (other services); a refresh token is refused.
ACCEPTED_TYPES = (tokens.ACCESS, tokens.SERVICE)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """Access tokens become a :class:`TokenUser`, service tokens a :class:`ServiceClient`."""

    www_authenticate_realm = "api"

    def authenticate(self, request: Request) -> tuple[Any, dict[str, Any]] | None:
        raw = _parse_header(request)
        if raw is None:
            return None
        try:
            # The signature is checked once per token and process (tokens.VerifiedTokens);
            # expiry, type and the denylist on every request.
            claims = tokens.verify(raw, expected_type=ACCEPTED_TYPES, cache=True)
        except tokens.InvalidToken as exc:
            raise exceptions.AuthenticationFailed(str(exc), code="token_not_valid") from None
        if claims["token_type"] == tokens.SERVICE:
            scopes = frozenset(str(claims.get("scope", "")).split())
            return ServiceClient(str(claims["client_id"]), scopes, claims), claims
        return (
            TokenUser(
                id=int(claims["user_id"]),
                username=str(claims.get("username", "")),
                is_staff=bool(claims.get("is_staff", False)),
                claims=claims,
            ),
            claims,
        )

    def authenticate_header(self, request: Request) -> str:
        return f'Bearer realm="{self.www_authenticate_realm}"'


class IsEndUser(permissions.BasePermission):
    """A signed-in person (not a service token, not anonymous)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.user, TokenUser) or (
            bool(getattr(request.user, "is_authenticated", False))
            and not isinstance(request.user, ServiceClient)
        )


class IsServiceClient(permissions.BasePermission):
    """Another service; ``required_scope`` on the view narrows it further."""

    message = "This endpoint is for services only."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not isinstance(request.user, ServiceClient):
            return False
        scope = getattr(view, "required_scope", None)
        return scope is None or scope in request.user.scopes
